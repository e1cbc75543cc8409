//! Failed-login throttling per account and per client address, so password guessing gets a
//! 429 with `Retry-After` long before it gets anywhere.
//!
//! State is kept in this process: on several nodes each node counts on its own, which still
//! bounds guessing to the limit times the number of nodes.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys with no failure inside the window are dropped once the map holds this many.
const PRUNE_ABOVE: usize = 10_000;

/// Sliding-window failure counters.
pub struct LoginThrottle {
    max_per_account: u32,
    max_per_ip: u32,
    window: Duration,
    // A std mutex: it is never held across an await and each critical section is short.
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// At most `max_per_account` failures for one email and `max_per_ip` for one address
    /// within `window`.
    pub fn new(max_per_account: u32, max_per_ip: u32, window: Duration) -> Self {
        Self {
            max_per_account,
            max_per_ip,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, ip: Option<IpAddr>) -> [(String, bool); 2] {
        [
            (format!("a:{email}"), true),
            (ip.map(|ip| format!("i:{ip}")).unwrap_or_default(), false),
        ]
    }

    /// `Err(wait)` when either the account or the address has used up its failures.
    pub fn check(&self, email: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for (key, is_account) in Self::keys(email, ip) {
            if key.is_empty() {
                continue;
            }
            let limit = if is_account {
                self.max_per_account
            } else {
                self.max_per_ip
            };
            if let Some(q) = map.get_mut(&key) {
                expire(q, now, self.window);
                if q.len() >= limit as usize
                    && let Some(oldest) = q.front()
                {
                    wait = wait.max((*oldest + self.window).saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait.max(Duration::from_secs(1)))
        }
    }

    /// Counts one failed attempt against both the account and the address.
    pub fn record_failure(&self, email: &str, ip: Option<IpAddr>, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, q| {
                expire(q, now, self.window);
                !q.is_empty()
            });
        }
        for (key, _) in Self::keys(email, ip) {
            if !key.is_empty() {
                let q = map.entry(key).or_default();
                expire(q, now, self.window);
                q.push_back(now);
            }
        }
    }

    /// A successful login clears the account's failures (not the address's).
    pub fn record_success(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("a:{email}"));
    }
}

fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn account_is_throttled_after_its_limit_and_released_after_the_window() {
        let t = LoginThrottle::new(3, 100, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..3 {
            assert!(t.check("a@x.org", IP, start).is_ok(), "attempt {i}");
            t.record_failure("a@x.org", IP, start);
        }
        let wait = t
            .check("a@x.org", IP, start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            t.check("b@x.org", IP, start).is_ok(),
            "other accounts unaffected"
        );
        assert!(
            t.check("a@x.org", IP, start + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn address_is_throttled_across_accounts() {
        let t = LoginThrottle::new(100, 4, Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..4 {
            t.record_failure(&format!("u{i}@x.org"), IP, now);
        }
        assert!(t.check("fresh@x.org", IP, now).is_err());
        assert!(t.check("fresh@x.org", None, now).is_ok());
    }

    #[test]
    fn success_clears_the_account() {
        let t = LoginThrottle::new(2, 100, Duration::from_secs(60));
        let now = Instant::now();
        t.record_failure("a@x.org", IP, now);
        t.record_failure("a@x.org", IP, now);
        assert!(t.check("a@x.org", IP, now).is_err());
        t.record_success("a@x.org");
        assert!(t.check("a@x.org", IP, now).is_ok());
    }
}
