//! Time and randomness, injected so that tests and simulations are deterministic.

use std::sync::atomic::{AtomicI64, Ordering};

use cohort_model::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the Unix epoch.
    fn now(&self) -> Timestamp;
}

/// A source of fresh 128-bit ids.
pub trait IdSource: Send {
    /// Sixteen bytes never returned before.
    fn next_id(&mut self) -> [u8; 16];
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the system clock is the one real clock; everything else receives it"
    )]
    fn now(&self) -> Timestamp {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(millis)
    }
}

/// Ids from the operating system's random number generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    #[allow(
        clippy::disallowed_methods,
        reason = "the OS random source is the one real id source; tests inject seeded ones"
    )]
    fn next_id(&mut self) -> [u8; 16] {
        rand::random()
    }
}

/// A clock that only moves when told to (for tests and simulations).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(AtomicI64::new(start.millis()))
    }

    /// Moves the clock forward by `millis`.
    pub fn advance(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Ids counting up from a seed (for tests and simulations).
#[derive(Debug, Clone)]
pub struct SequentialIds {
    prefix: u64,
    next: u64,
}

impl SequentialIds {
    /// Ids whose first eight bytes are `seed` and last eight count up from 1.
    pub fn new(seed: u64) -> Self {
        SequentialIds {
            prefix: seed,
            next: 1,
        }
    }
}

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.prefix.to_be_bytes());
        out[8..].copy_from_slice(&self.next.to_be_bytes());
        self.next += 1;
        out
    }
}
