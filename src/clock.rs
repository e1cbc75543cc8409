//! Time as the consultation rules see it. Metering, deadlines and no-show rules ask a `Clock`
//! instead of the system, so tests (and simulations) move time forward instead of sleeping.
//!
//! It also owns the one format every time in the API is written in (HTTP bodies and WebSocket
//! frames alike): RFC 3339 in UTC with a `Z` offset, as `chrono` serialises a `DateTime<Utc>`.
//! Tables store naive UTC timestamps; rows that are served as they are serialise them through
//! [`utc`] / [`utc_opt`], never as naive text a client would have to guess the zone of.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// The current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// How the application shares its clock.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to; for tests and simulations.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `t` in the API's one time format (RFC 3339, UTC, `Z`; sub-second digits only when present).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Serialises a stored naive UTC timestamp in the API's time format
/// (`#[serde(serialize_with = "crate::clock::utc::serialize")]`).
pub mod utc {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    /// Writes `t` (naive, in UTC) as RFC 3339 with its `Z` offset.
    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(t.and_utc()))
    }
}

/// [`utc`] for optional timestamps (`null` when absent).
pub mod utc_opt {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    /// Writes `t` (naive, in UTC) as RFC 3339 with its `Z` offset, or `null`.
    pub fn serialize<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::utc::serialize(t, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_are_rfc3339_in_utc_with_z() {
        let t: DateTime<Utc> = "2026-12-02T15:40:02.914137014Z".parse().unwrap();
        assert_eq!(rfc3339(t), "2026-12-02T15:40:02.914137014Z");
        let whole: DateTime<Utc> = "2026-12-02T15:40:02Z".parse().unwrap();
        assert_eq!(rfc3339(whole), "2026-12-02T15:40:02Z");
        #[derive(serde::Serialize)]
        struct Row {
            #[serde(serialize_with = "utc::serialize")]
            at: chrono::NaiveDateTime,
            #[serde(serialize_with = "utc_opt::serialize")]
            maybe: Option<chrono::NaiveDateTime>,
        }
        let row = Row {
            at: t.naive_utc(),
            maybe: None,
        };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["at"], serde_json::to_value(t).unwrap());
        assert_eq!(json["maybe"], serde_json::Value::Null);
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let t0 = Utc::now();
        let clock = ManualClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::seconds(90));
        assert_eq!(clock.now(), t0 + Duration::seconds(90));
    }
}
