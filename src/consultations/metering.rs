//! Server-side metering of a consultation, as a plain state machine over times the caller
//! supplies (from the `Clock`), so billing is exact and tested without sleeping.
//!
//! Billable time runs only while both parties are connected. When one drops, the interval is
//! kept open for a grace period: if they are both back within it, the gap is billed as if
//! nobody had left (a flaky network should not cost the expert); otherwise the interval ends
//! at the moment of the drop. The meter warns as the booked time runs out and reports when the
//! limit is reached; the limit grows with granted extensions.

use chrono::{DateTime, Duration, Utc};

/// Seconds before the booked time runs out at which a `time_warning` is sent.
pub const WARNINGS_S: [i64; 2] = [300, 60];

/// What a call did to the meter, for the room to store and announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A billable interval began.
    Started {
        /// When.
        at: DateTime<Utc>,
    },
    /// A party dropped; the interval is held open for the grace period.
    Paused {
        /// When the party dropped.
        at: DateTime<Utc>,
    },
    /// Both are back within the grace period; the gap is billed.
    Resumed {
        /// When.
        at: DateTime<Utc>,
    },
    /// The interval closed; `billed_s` is the total billable time so far.
    Stopped {
        /// Where the interval ends.
        at: DateTime<Utc>,
        /// Total billable seconds.
        billed_s: i64,
    },
    /// Little booked time is left.
    Warning {
        /// Billable seconds left.
        remaining_s: i64,
    },
    /// The booked time is used up; the session must end.
    LimitReached,
}

/// The meter of one consultation.
#[derive(Debug, Clone)]
pub struct Meter {
    limit_s: i64,
    grace: Duration,
    billed_s: i64,
    /// Start of the running interval and, if a party dropped, when.
    open: Option<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    warned: Vec<i64>,
}

impl Meter {
    /// A meter for `limit_s` booked seconds with `grace_s` for reconnects, resuming from
    /// `billed_s` already billed in closed intervals and an interval left open (its start and
    /// last checkpoint) by a previous run of the server.
    pub fn new(
        limit_s: i64,
        grace_s: i64,
        billed_s: i64,
        left_open: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Self {
        let mut m = Self {
            limit_s,
            grace: Duration::seconds(grace_s),
            billed_s,
            // An interval the server did not close is treated as a drop at its last checkpoint.
            open: left_open.map(|(start, checkpoint)| (start, Some(checkpoint))),
            warned: Vec::new(),
        };
        m.warned = WARNINGS_S
            .iter()
            .copied()
            .filter(|w| m.limit_s - m.billed_s <= *w)
            .collect();
        m
    }

    /// Billable seconds up to `now` (a paused interval counts up to now while its grace lasts).
    pub fn billable_at(&self, now: DateTime<Utc>) -> i64 {
        let running = match self.open {
            Some((start, None)) => (now - start).num_seconds(),
            Some((start, Some(drop))) if now - drop <= self.grace => (now - start).num_seconds(),
            Some((start, Some(drop))) => (drop - start).num_seconds(),
            None => 0,
        };
        (self.billed_s + running.max(0)).min(self.limit_s)
    }

    /// Whether an interval is running (possibly paused within its grace).
    pub fn running(&self) -> bool {
        self.open.is_some()
    }

    /// The booked limit in seconds.
    pub fn limit_s(&self) -> i64 {
        self.limit_s
    }

    /// Both parties are connected at `now`.
    pub fn both_present(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let mut changes = self.tick(now);
        match self.open {
            Some((start, Some(_))) => {
                self.open = Some((start, None));
                changes.push(Change::Resumed { at: now });
            }
            Some((_, None)) => {}
            None if self.billed_s < self.limit_s => {
                self.open = Some((now, None));
                changes.push(Change::Started { at: now });
            }
            None => {}
        }
        changes
    }

    /// One party dropped at `now`.
    pub fn one_left(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let mut changes = self.tick(now);
        if let Some((start, None)) = self.open {
            self.open = Some((start, Some(now)));
            changes.push(Change::Paused { at: now });
        }
        changes
    }

    /// Advances to `now`: closes an interval whose grace ran out, warns, and stops at the limit.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some((_, Some(drop))) = self
            .open
            .filter(|(_, d)| d.is_some_and(|d| now - d > self.grace))
        {
            changes.push(self.close(drop));
        }
        let billable = self.billable_at(now);
        let remaining = self.limit_s - billable;
        for w in WARNINGS_S {
            if remaining <= w && remaining > 0 && !self.warned.contains(&w) {
                self.warned.push(w);
                changes.push(Change::Warning {
                    remaining_s: remaining,
                });
            }
        }
        if remaining <= 0 && self.running() {
            let (start, _) = self.open.unwrap_or((now, None));
            let at = start + Duration::seconds(self.limit_s - self.billed_s);
            changes.push(self.close(at));
            changes.push(Change::LimitReached);
        }
        changes
    }

    /// The session ends at `now` (either party ended it, or the room closes it).
    pub fn end(&mut self, now: DateTime<Utc>) -> Vec<Change> {
        let mut changes = self.tick(now);
        match self.open {
            Some((_, Some(drop))) => changes.push(self.close(drop)),
            Some((_, None)) => changes.push(self.close(now)),
            None => {}
        }
        changes
    }

    /// Adds granted extension time; warnings start over for the new end.
    pub fn extend(&mut self, extra_s: i64) {
        self.limit_s += extra_s;
        let remaining = self.limit_s - self.billed_s;
        self.warned.retain(|w| remaining <= *w);
    }

    fn close(&mut self, at: DateTime<Utc>) -> Change {
        if let Some((start, _)) = self.open.take() {
            let len = (at - start).num_seconds().max(0);
            self.billed_s = (self.billed_s + len).min(self.limit_s);
        }
        Change::Stopped {
            at,
            billed_s: self.billed_s,
        }
    }
}

/// What a consultation costs: whole minutes, rounded up, at the rate, never above what was
/// authorised.
pub fn charge(billable_s: i64, rate_per_minute_minor: i64, authorised_minor: i64) -> i64 {
    let minutes = (billable_s.max(0) + 59) / 60;
    minutes
        .saturating_mul(rate_per_minute_minor)
        .min(authorised_minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        "2026-03-01T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(s)
    }

    fn stopped(changes: &[Change]) -> Option<i64> {
        changes.iter().find_map(|c| match c {
            Change::Stopped { billed_s, .. } => Some(*billed_s),
            _ => None,
        })
    }

    #[test]
    fn only_time_with_both_present_is_billed() {
        let mut m = Meter::new(1800, 30, 0, None);
        assert_eq!(m.both_present(t(10)), vec![Change::Started { at: t(10) }]);
        assert_eq!(m.billable_at(t(70)), 60);
        m.one_left(t(100));
        // The drop lasts beyond the grace: billing stops at the drop.
        assert_eq!(stopped(&m.tick(t(131))), Some(90));
        assert_eq!(m.billable_at(t(500)), 90);
        m.both_present(t(600));
        assert_eq!(stopped(&m.end(t(660))), Some(150));
    }

    #[test]
    fn a_drop_within_the_grace_is_billed_as_continuous() {
        let mut m = Meter::new(1800, 30, 0, None);
        m.both_present(t(0));
        assert_eq!(m.one_left(t(100)), vec![Change::Paused { at: t(100) }]);
        assert_eq!(
            m.tick(t(130)),
            vec![],
            "exactly the grace is still within it"
        );
        assert_eq!(m.both_present(t(125)), vec![Change::Resumed { at: t(125) }]);
        assert_eq!(stopped(&m.end(t(200))), Some(200));
    }

    #[test]
    fn ending_during_a_drop_bills_up_to_the_drop() {
        let mut m = Meter::new(1800, 30, 0, None);
        m.both_present(t(0));
        m.one_left(t(50));
        assert_eq!(stopped(&m.end(t(60))), Some(50));
        assert!(!m.running());
    }

    #[test]
    fn warnings_come_once_and_the_limit_stops_exactly() {
        let mut m = Meter::new(600, 30, 0, None);
        m.both_present(t(0));
        assert_eq!(m.tick(t(299)), vec![]);
        assert_eq!(m.tick(t(300)), vec![Change::Warning { remaining_s: 300 }]);
        assert_eq!(m.tick(t(301)), vec![]);
        assert_eq!(m.tick(t(540)), vec![Change::Warning { remaining_s: 60 }]);
        let end = m.tick(t(605));
        assert_eq!(
            end,
            vec![
                Change::Stopped {
                    at: t(600),
                    billed_s: 600
                },
                Change::LimitReached
            ]
        );
        assert_eq!(
            m.both_present(t(700)),
            vec![],
            "no time left to start again"
        );
    }

    #[test]
    fn an_extension_moves_the_limit_and_rearms_warnings() {
        let mut m = Meter::new(600, 30, 0, None);
        m.both_present(t(0));
        m.tick(t(550));
        m.extend(600);
        assert_eq!(m.limit_s(), 1200);
        assert_eq!(m.tick(t(900)), vec![Change::Warning { remaining_s: 300 }]);
        assert_eq!(stopped(&m.tick(t(1200))), Some(1200));
    }

    #[test]
    fn a_restart_resumes_from_the_stored_intervals_without_double_counting() {
        // 120 s billed in closed intervals; one interval open since t(0), checkpointed at t(40).
        let mut m = Meter::new(1800, 30, 120, Some((t(0), t(40))));
        assert_eq!(m.billable_at(t(40)), 160);
        // Both back within the grace of the checkpoint: the gap is billed, nothing lost.
        assert_eq!(m.both_present(t(60)), vec![Change::Resumed { at: t(60) }]);
        assert_eq!(stopped(&m.end(t(100))), Some(220));
        // Back too late: the interval ends at its checkpoint.
        let mut late = Meter::new(1800, 30, 120, Some((t(0), t(40))));
        let changes = late.both_present(t(200));
        assert_eq!(stopped(&changes), Some(160));
        assert_eq!(changes.last(), Some(&Change::Started { at: t(200) }));
    }

    #[test]
    fn charges_round_up_to_whole_minutes_and_never_exceed_the_hold() {
        assert_eq!(charge(0, 100, 5000), 0);
        assert_eq!(charge(1, 100, 5000), 100);
        assert_eq!(charge(60, 100, 5000), 100);
        assert_eq!(charge(61, 100, 5000), 200);
        assert_eq!(charge(3600, 100, 5000), 5000);
    }
}
