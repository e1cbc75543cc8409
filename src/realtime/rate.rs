//! A token bucket: `burst` commands at once, refilled at `per_sec`. Each WebSocket connection
//! has one (a command without a token is answered with a `rate_limited` error instead of
//! reaching a room), and so does each user reporting behaviour events.

use std::time::{Duration, Instant};

/// Command budget of one connection.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `per_sec` per second.
    pub fn new(burst: u32, per_sec: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            capacity,
            per_sec: f64::from(per_sec),
            tokens: capacity,
            last: now,
        }
    }

    /// A full bucket of `burst` tokens refilled at `per_minute` per minute (not rounded to
    /// whole tokens per second).
    pub fn per_minute(burst: u32, per_minute: u32, now: Instant) -> Self {
        Self {
            per_sec: f64::from(per_minute) / 60.0,
            ..Self::new(burst, 0, now)
        }
    }

    /// Puts `n` tokens back (never above the burst).
    pub fn give_back(&mut self, n: u32) {
        self.tokens = (self.tokens + f64::from(n)).min(self.capacity);
    }

    /// When a token was last asked for: a bucket idle long enough is full again.
    pub fn last_use(&self) -> Instant {
        self.last
    }

    /// Takes one token at `now`; `Err(wait)` when none is left.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.take_n(1, now)
    }

    /// Takes `n` tokens at once (a batch costs what its items cost), or none: `Err(wait)` says
    /// how long until `n` are there. A batch larger than the burst can never pass.
    pub fn take_n(&mut self, n: u32, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        self.last = now;
        let wanted = f64::from(n);
        if self.tokens >= wanted {
            self.tokens -= wanted;
            Ok(())
        } else if self.per_sec > 0.0 && wanted <= self.capacity {
            Err(Duration::from_secs_f64(
                (wanted - self.tokens) / self.per_sec,
            ))
        } else {
            Err(Duration::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3, 2, t0);
        assert!((0..3).all(|_| b.take(t0).is_ok()));
        let wait = b.take(t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(b.take(t0 + Duration::from_millis(500)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(500)).is_err());
        // Never more than the burst, however long it rested.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| b.take(later).is_ok()));
        assert!(b.take(later).is_err());
    }

    #[test]
    fn batches_take_all_or_nothing() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        assert!(b.take_n(8, t0).is_ok());
        // Two left: a batch of three waits for one more token, and takes nothing meanwhile.
        assert_eq!(b.take_n(3, t0).unwrap_err(), Duration::from_millis(200));
        assert!(b.take_n(2, t0).is_ok());
        // More than the burst can never pass.
        assert_eq!(
            b.take_n(11, t0 + Duration::from_secs(60)),
            Err(Duration::MAX)
        );
    }
}
