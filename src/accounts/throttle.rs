//! Failed-login throttling that stops guessing without handing the attacker a way to lock the
//! owner out.
//!
//! Three counters, each a sliding window:
//! - **account and client together**: a client that keeps failing on one account is refused
//!   on that account, while the owner signing in from elsewhere is not;
//! - **client**: one client spraying many accounts is refused on all of them;
//! - **account, all clients**: guessing spread over many addresses is refused too, except for
//!   clients this account signed in from before, so a distributed attack does not lock the
//!   owner out of the devices they use.
//!
//! Keys are fixed-size hashes (keyed per process, so nobody can aim collisions) of the
//! normalised email and the client's network (an IPv6 client counts as its /64, which one
//! machine usually owns whole). Each counter keeps at most its limit of timestamps and the map
//! at most [`MAX_KEYS`] keys, so memory stays bounded whatever is sent.
//!
//! State is kept in this process: on several nodes each node counts on its own, which still
//! bounds guessing to the limits times the number of nodes.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys tracked at once; past it, the keys idle longest are forgotten first.
pub const MAX_KEYS: usize = 100_000;

/// How long a successful sign-in makes its client trusted for the account.
const TRUST_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// How many failures each counter tolerates within the window.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures by one client on one account.
    pub per_account_client: u32,
    /// Failures by one client over all accounts.
    pub per_client: u32,
    /// Failures on one account from clients it never signed in from.
    pub per_account: u32,
}

/// What one counter is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    AccountClient(u64),
    Client(u64),
    Account(u64),
}

/// Sliding-window failure counters plus the clients each account signed in from.
pub struct LoginThrottle {
    limits: Limits,
    window: Duration,
    hasher: RandomState,
    // A std mutex: it is never held across an await and each critical section is short.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failures: HashMap<Key, VecDeque<Instant>>,
    trusted: HashMap<u64, Instant>,
}

/// The hashed keys of one attempt.
struct Attempt {
    account_client: Option<u64>,
    client: Option<u64>,
    account: u64,
}

impl LoginThrottle {
    /// Counters with these limits over `window`.
    pub fn new(limits: Limits, window: Duration) -> Self {
        Self {
            limits,
            window,
            hasher: RandomState::new(),
            state: Mutex::new(State::default()),
        }
    }

    fn attempt(&self, email: &str, client: Option<IpAddr>) -> Attempt {
        let account = self.hasher.hash_one(("a", normalise(email)));
        let network = client.map(network);
        Attempt {
            account_client: network.map(|n| self.hasher.hash_one(("p", account, n))),
            client: network.map(|n| self.hasher.hash_one(("c", n))),
            account,
        }
    }

    /// `Err(wait)` when this client may not try this account now.
    pub fn check(&self, email: &str, client: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let attempt = self.attempt(email, client);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let trusted = attempt
            .account_client
            .and_then(|k| state.trusted.get(&k))
            .is_some_and(|since| now.saturating_duration_since(*since) < TRUST_FOR);
        let mut counters = vec![(Key::Account(attempt.account), self.limits.per_account)];
        if trusted {
            counters.clear();
        }
        if let Some(k) = attempt.account_client {
            counters.push((Key::AccountClient(k), self.limits.per_account_client));
        }
        if let Some(k) = attempt.client {
            counters.push((Key::Client(k), self.limits.per_client));
        }
        let mut wait = Duration::ZERO;
        for (key, limit) in counters {
            if let Some(q) = state.failures.get_mut(&key) {
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

    /// Counts one failed attempt against each of its counters.
    pub fn record_failure(&self, email: &str, client: Option<IpAddr>, now: Instant) {
        let attempt = self.attempt(email, client);
        let counters = [
            attempt
                .account_client
                .map(|k| (Key::AccountClient(k), self.limits.per_account_client)),
            attempt
                .client
                .map(|k| (Key::Client(k), self.limits.per_client)),
            Some((Key::Account(attempt.account), self.limits.per_account)),
        ];
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.failures.len() + counters.len() > MAX_KEYS {
            self.make_room(&mut state.failures, now);
        }
        for (key, limit) in counters.into_iter().flatten() {
            let q = state.failures.entry(key).or_default();
            expire(q, now, self.window);
            // Only the newest `limit` failures can decide anything.
            while q.len() >= (limit as usize).max(1) {
                q.pop_front();
            }
            q.push_back(now);
        }
    }

    /// A successful sign-in clears this client's failures on the account and trusts the
    /// client for it, so guessing from elsewhere cannot lock it out.
    pub fn record_success(&self, email: &str, client: Option<IpAddr>, now: Instant) {
        let attempt = self.attempt(email, client);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = attempt.account_client {
            state.failures.remove(&Key::AccountClient(k));
            if state.trusted.len() >= MAX_KEYS {
                state
                    .trusted
                    .retain(|_, since| now.saturating_duration_since(*since) < TRUST_FOR);
            }
            if state.trusted.len() >= MAX_KEYS {
                forget_oldest(&mut state.trusted, |since| *since);
            }
            state.trusted.insert(k, now);
        }
    }

    /// Drops expired counters, then, if the map is still full, the tenth idle longest.
    fn make_room(&self, failures: &mut HashMap<Key, VecDeque<Instant>>, now: Instant) {
        failures.retain(|_, q| {
            expire(q, now, self.window);
            !q.is_empty()
        });
        if failures.len() + 3 > MAX_KEYS {
            forget_oldest(failures, |q| q.back().copied().unwrap_or(now));
        }
    }
}

/// Removes the tenth of `map` whose `age` is oldest.
fn forget_oldest<K: Copy + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    age: impl Fn(&V) -> Instant,
) {
    let mut by_age: Vec<(Instant, K)> = map.iter().map(|(k, v)| (age(v), *k)).collect();
    let cut = (by_age.len() / 10).max(1);
    by_age.select_nth_unstable_by_key(cut - 1, |(t, _)| *t);
    for (_, key) in &by_age[..cut] {
        map.remove(key);
    }
}

/// The email as accounts are stored (trimmed, lower-case); anything longer than an address
/// can be is cut, since no account has it and its hash decides nothing more.
fn normalise(email: &str) -> String {
    let trimmed = email.trim();
    let cut = trimmed.floor_char_boundary(320);
    trimmed[..cut].to_lowercase()
}

/// The network one client controls: the address itself for IPv4, the /64 for IPv6.
fn network(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(v4.to_bits()),
            None => (v6.to_bits() >> 64) << 64 | 1,
        },
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
    use std::net::{Ipv4Addr, Ipv6Addr};

    const WINDOW: Duration = Duration::from_secs(60);
    const ATTACKER: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
    const OWNER: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));

    fn throttle(per_account_client: u32, per_client: u32, per_account: u32) -> LoginThrottle {
        LoginThrottle::new(
            Limits {
                per_account_client,
                per_client,
                per_account,
            },
            WINDOW,
        )
    }

    fn fail(t: &LoginThrottle, email: &str, client: Option<IpAddr>, now: Instant, n: u32) {
        for _ in 0..n {
            t.record_failure(email, client, now);
        }
    }

    #[test]
    fn a_guessing_client_is_refused_on_that_account_until_the_window_passes() {
        let t = throttle(3, 100, 100);
        let start = Instant::now();
        fail(&t, "a@x.org", ATTACKER, start, 3);
        let wait = t
            .check("a@x.org", ATTACKER, start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(t.check("b@x.org", ATTACKER, start).is_ok());
        assert!(t.check("a@x.org", ATTACKER, start + WINDOW).is_ok());
    }

    #[test]
    fn the_owner_elsewhere_is_not_locked_out_by_one_attacker() {
        let t = throttle(3, 100, 100);
        let now = Instant::now();
        fail(&t, "Owner@X.org ", ATTACKER, now, 50);
        assert!(t.check("owner@x.org", ATTACKER, now).is_err());
        assert!(t.check("owner@x.org", OWNER, now).is_ok());
    }

    #[test]
    fn a_client_spraying_accounts_is_refused_everywhere() {
        let t = throttle(100, 4, 100);
        let now = Instant::now();
        for i in 0..4 {
            t.record_failure(&format!("u{i}@x.org"), ATTACKER, now);
        }
        assert!(t.check("fresh@x.org", ATTACKER, now).is_err());
        assert!(t.check("fresh@x.org", OWNER, now).is_ok());
    }

    #[test]
    fn distributed_guessing_is_refused_except_where_the_owner_signed_in_before() {
        let t = throttle(3, 100, 10);
        let now = Instant::now();
        t.record_success("owner@x.org", OWNER, now);
        for i in 0..10u8 {
            let bot = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)));
            t.record_failure("owner@x.org", bot, now);
        }
        let new_bot = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1)));
        assert!(t.check("owner@x.org", new_bot, now).is_err());
        assert!(t.check("owner@x.org", OWNER, now).is_ok());
    }

    #[test]
    fn success_clears_that_client_only() {
        let t = throttle(2, 100, 100);
        let now = Instant::now();
        fail(&t, "a@x.org", OWNER, now, 2);
        fail(&t, "a@x.org", ATTACKER, now, 2);
        t.record_success("a@x.org", OWNER, now);
        assert!(t.check("a@x.org", OWNER, now).is_ok());
        assert!(t.check("a@x.org", ATTACKER, now).is_err());
    }

    #[test]
    fn an_ipv6_client_counts_as_its_slash_64() {
        let t = throttle(2, 100, 100);
        let now = Instant::now();
        let one = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, 1);
        let same_net = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9);
        let other_net = Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1);
        fail(&t, "a@x.org", Some(IpAddr::V6(one)), now, 2);
        assert!(t.check("a@x.org", Some(IpAddr::V6(same_net)), now).is_err());
        assert!(t.check("a@x.org", Some(IpAddr::V6(other_net)), now).is_ok());
    }

    #[test]
    fn memory_stays_bounded_whatever_is_sent() {
        let t = throttle(5, 1_000_000, 5);
        let now = Instant::now();
        let long = "x".repeat(1024);
        for i in 0..(MAX_KEYS as u64) {
            let at = now + Duration::from_micros(i);
            t.record_failure(&format!("{i}{long}"), ATTACKER, at);
        }
        let state = t.state.lock().unwrap();
        assert!(state.failures.len() <= MAX_KEYS);
        assert!(state.failures.values().all(|q| q.len() <= 1_000_000));
        let client = state
            .failures
            .iter()
            .find(|(k, _)| matches!(k, Key::Client(_)));
        assert!(client.is_some(), "the active client's counter is kept");
    }
}
