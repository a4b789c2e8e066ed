//! Throttling of failed password logins, in process memory (bounded), on every edge: REST and
//! TAXII Basic, and the UI login, since they all verify through `auth::Authenticator`.
//!
//! Three counters of recent failures, each forgotten after [`QUIET`] without a failure:
//! - per (user name, client address): after [`FREE_PER_PAIR`] failures the pair must wait
//!   1 s, 2 s, 4 s ... (at most [`MAX_WAIT`]) after its last failure; an attempt sooner is
//!   refused at once (429, `Retry-After`) without spending an argon2 check;
//! - per client address (any user name: a password spray): the same after
//!   [`FREE_PER_ADDRESS`] failures;
//! - per user name, from every address: never refuses, only slows each attempt by up to
//!   [`MAX_USER_DELAY`], so an attacker with many addresses cannot lock the real user out.
//!
//! Credentials verified recently are answered from the credential cache before any of this,
//! and a (user, address) pair that logged in successfully is "known good": it skips the
//! per-user delay and has an argon2 lane of its own (see `auth.rs`). IPv6 addresses count per
//! /64, as one host usually holds a whole /64.
//!
//! Several instances: each counts on its own, so behind a load balancer an attacker gets at most
//! the number of instances times the budget; the growing wait still bounds it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one (user, address) pair before it must wait.
pub const FREE_PER_PAIR: u32 = 5;
/// Failures from one address (whatever the user names) before it must wait.
pub const FREE_PER_ADDRESS: u32 = 20;
/// Failures of one user name (from anywhere) before its attempts are slowed.
pub const FREE_PER_USER: u32 = 10;
/// The longest wait imposed.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// The longest delay added to an attempt on a user name under attack.
pub const MAX_USER_DELAY: Duration = Duration::from_secs(2);
/// A counter without failure for this long is forgotten.
pub const QUIET: Duration = Duration::from_secs(60 * 60);
/// How long a successful (user, address) pair stays known good.
const KNOWN_GOOD: Duration = Duration::from_secs(30 * 24 * 3600);

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    last: Instant,
}

/// A bounded map of counters: when full, quiet entries go first, then the oldest.
#[derive(Debug)]
struct Counters<K> {
    map: HashMap<K, Counter>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq + Clone> Counters<K> {
    fn new(capacity: usize) -> Self {
        Self { map: HashMap::new(), capacity }
    }

    fn get(&self, key: &K, now: Instant) -> Option<Counter> {
        self.map.get(key).copied().filter(|c| now.saturating_duration_since(c.last) < QUIET)
    }

    fn bump(&mut self, key: K, now: Instant) -> u32 {
        let failures = self.get(&key, now).map_or(0, |c| c.failures).saturating_add(1);
        if !self.map.contains_key(&key) && self.map.len() >= self.capacity {
            self.map.retain(|_, c| now.saturating_duration_since(c.last) < QUIET);
            if self.map.len() >= self.capacity
                && let Some(oldest) = self.map.iter().min_by_key(|(_, c)| c.last).map(|(k, _)| k.clone())
            {
                self.map.remove(&oldest);
            }
        }
        self.map.insert(key, Counter { failures, last: now });
        failures
    }
}

/// The wait after `failures` failures when `free` are allowed: 0, then 1 s doubling.
fn wait_after(failures: u32, free: u32) -> Duration {
    match failures.checked_sub(free) {
        None | Some(0) => Duration::ZERO,
        Some(over) => {
            Duration::from_secs(1u64.checked_shl(over.saturating_sub(1).min(20)).unwrap_or(u64::MAX))
                .min(MAX_WAIT)
        }
    }
}

/// The address as counted: IPv6 per /64, anything unparsable as itself.
pub fn address_key(remote: Option<&str>) -> String {
    match remote.map(str::parse::<IpAddr>) {
        Some(Ok(IpAddr::V6(v6))) if v6.to_ipv4_mapped().is_none() => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        Some(Ok(IpAddr::V6(v6))) => v6.to_ipv4_mapped().map_or_else(|| v6.to_string(), |v4| v4.to_string()),
        Some(Ok(ip)) => ip.to_string(),
        Some(Err(_)) => remote.unwrap_or("-").to_string(),
        None => "-".to_string(),
    }
}

/// What to do with a password attempt before verifying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Verify it, after sleeping `delay`; `known_good`: this pair has logged in before.
    Go { delay: Duration, known_good: bool },
    /// Refuse it without verifying: come back after this long.
    Wait(Duration),
}

#[derive(Debug)]
struct State {
    pairs: Counters<(String, String)>,
    addresses: Counters<String>,
    users: Counters<String>,
    good: HashMap<(String, String), Instant>,
}

/// The failed-login counters of this process.
#[derive(Debug)]
pub struct Throttle {
    state: Mutex<State>,
    capacity: usize,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Throttle {
    /// `capacity` bounds each counter map (memory stays bounded under a flood of names).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State {
                pairs: Counters::new(capacity),
                addresses: Counters::new(capacity),
                users: Counters::new(capacity),
                good: HashMap::new(),
            }),
            capacity: capacity.max(1),
        }
    }

    pub fn check(&self, username: &str, address: &str) -> Verdict {
        self.check_at(username, address, Instant::now())
    }

    pub fn check_at(&self, username: &str, address: &str, now: Instant) -> Verdict {
        let Ok(state) = self.state.lock() else {
            return Verdict::Go { delay: Duration::ZERO, known_good: false };
        };
        let pair = (username.to_string(), address.to_string());
        let known_good =
            state.good.get(&pair).is_some_and(|at| now.saturating_duration_since(*at) < KNOWN_GOOD);
        let until = |c: Option<Counter>, free: u32| {
            c.map(|c| (c.last + wait_after(c.failures, free)).saturating_duration_since(now))
                .unwrap_or(Duration::ZERO)
        };
        let wait = until(state.pairs.get(&pair, now), FREE_PER_PAIR)
            .max(until(state.addresses.get(&address.to_string(), now), FREE_PER_ADDRESS));
        if !wait.is_zero() {
            return Verdict::Wait(wait);
        }
        let delay = if known_good {
            Duration::ZERO
        } else {
            let over = state
                .users
                .get(&username.to_string(), now)
                .map_or(0, |c| c.failures.saturating_sub(FREE_PER_USER));
            (Duration::from_millis(100) * over.min(100)).min(MAX_USER_DELAY)
        };
        Verdict::Go { delay, known_good }
    }

    pub fn failed(&self, username: &str, address: &str) {
        self.failed_at(username, address, Instant::now());
    }

    pub fn failed_at(&self, username: &str, address: &str, now: Instant) {
        let Ok(mut state) = self.state.lock() else { return };
        let n = state.pairs.bump((username.to_string(), address.to_string()), now);
        if n == FREE_PER_PAIR + 1 {
            tracing::warn!(user = %username.escape_debug(), address, "login attempts throttled");
        }
        state.addresses.bump(address.to_string(), now);
        state.users.bump(username.to_string(), now);
    }

    /// A successful login clears its pair's failures (not the address's: one valid account must
    /// not reset a spray) and makes the pair known good.
    pub fn succeeded(&self, username: &str, address: &str) {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else { return };
        let pair = (username.to_string(), address.to_string());
        state.pairs.map.remove(&pair);
        if !state.good.contains_key(&pair) && state.good.len() >= self.capacity {
            state.good.retain(|_, at| now.saturating_duration_since(*at) < KNOWN_GOOD);
            if state.good.len() >= self.capacity
                && let Some(oldest) = state.good.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone())
            {
                state.good.remove(&oldest);
            }
        }
        state.good.insert(pair, now);
    }

    /// Forgets what is known of a user name (deleted, or its password reset by an administrator).
    pub fn forget_user(&self, username: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.pairs.map.retain(|(u, _), _| u != username);
            state.users.map.remove(username);
            state.good.retain(|(u, _), _| u != username);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_waits_longer_and_longer_after_its_free_failures() {
        let t = Throttle::new(100);
        let now = Instant::now();
        for _ in 0..FREE_PER_PAIR {
            assert!(matches!(t.check_at("alice", "10.0.0.1", now), Verdict::Go { .. }));
            t.failed_at("alice", "10.0.0.1", now);
        }
        assert!(matches!(t.check_at("alice", "10.0.0.1", now), Verdict::Go { .. }));
        t.failed_at("alice", "10.0.0.1", now);
        assert_eq!(t.check_at("alice", "10.0.0.1", now), Verdict::Wait(Duration::from_secs(1)));
        t.failed_at("alice", "10.0.0.1", now);
        assert_eq!(t.check_at("alice", "10.0.0.1", now), Verdict::Wait(Duration::from_secs(2)));
        // Another address is not held back by this pair, only slowed once the name is hot.
        assert!(matches!(t.check_at("alice", "10.0.0.2", now), Verdict::Go { .. }));
        // After the wait, one more try is allowed.
        let later = now + Duration::from_secs(3);
        assert!(matches!(t.check_at("alice", "10.0.0.1", later), Verdict::Go { .. }));
    }

    #[test]
    fn a_name_under_attack_from_everywhere_is_slowed_never_locked() {
        let t = Throttle::new(1000);
        let now = Instant::now();
        for i in 0..200 {
            t.failed_at("alice", &format!("10.1.{}.{}", i / 250, i % 250), now);
        }
        match t.check_at("alice", "192.168.1.1", now) {
            Verdict::Go { delay, known_good: false } => assert_eq!(delay, MAX_USER_DELAY),
            other => panic!("{other:?}"),
        }
        t.succeeded("alice", "192.168.1.7");
        assert_eq!(
            t.check_at("alice", "192.168.1.7", now),
            Verdict::Go { delay: Duration::ZERO, known_good: true }
        );
    }

    #[test]
    fn a_spray_from_one_address_is_stopped() {
        let t = Throttle::new(1000);
        let now = Instant::now();
        for i in 0..=FREE_PER_ADDRESS {
            t.failed_at(&format!("user{i}"), "10.0.0.9", now);
        }
        assert!(matches!(t.check_at("someone-else", "10.0.0.9", now), Verdict::Wait(_)));
        assert!(matches!(t.check_at("someone-else", "10.0.0.10", now), Verdict::Go { .. }));
    }

    #[test]
    fn counters_are_bounded_and_forgotten() {
        let t = Throttle::new(10);
        let now = Instant::now();
        for i in 0..100 {
            t.failed_at(&format!("u{i}"), &format!("10.0.0.{i}"), now);
        }
        let state = t.state.lock().expect("lock");
        assert!(state.pairs.map.len() <= 10 && state.addresses.map.len() <= 10);
        drop(state);
        for _ in 0..10 {
            t.failed_at("bob", "10.9.9.9", now);
        }
        assert!(matches!(t.check_at("bob", "10.9.9.9", now + QUIET), Verdict::Go { .. }));
    }

    #[test]
    fn addresses_are_counted_per_host() {
        assert_eq!(address_key(Some("2001:db8:1:2:3:4:5:6")), "2001:db8:1:2::/64");
        assert_eq!(address_key(Some("::ffff:10.0.0.1")), "10.0.0.1");
        assert_eq!(address_key(Some("10.0.0.1")), "10.0.0.1");
        assert_eq!(address_key(None), "-");
        assert_eq!(wait_after(5, 5), Duration::ZERO);
        assert_eq!(wait_after(6, 5), Duration::from_secs(1));
        assert_eq!(wait_after(500, 5), MAX_WAIT);
    }
}
