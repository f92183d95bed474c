//! Deterministic, jittered exponential backoff.

use std::time::Duration;

use crate::config::Backoff;

/// SplitMix64: a tiny deterministic generator, enough for jitter (not for secrets).
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Delay before retry number `attempt` (0-based): exponential, capped, jittered to
    /// `[delay/2, delay]`.
    pub(crate) fn delay(&mut self, backoff: &Backoff, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(20);
        let full = backoff.initial.saturating_mul(factor).min(backoff.max);
        let half = full / 2;
        let span = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if span == 0 {
            0
        } else {
            self.next_u64() % (span + 1)
        };
        half + Duration::from_millis(extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered_deterministically() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            seed: 42,
        };
        let mut j = Jitter::new(b.seed);
        let delays: Vec<_> = (0..8).map(|a| j.delay(&b, a)).collect();
        for (a, d) in delays.iter().enumerate() {
            let full = (Duration::from_millis(100) * (1 << a)).min(Duration::from_secs(1));
            assert!(
                *d >= full / 2 && *d <= full,
                "attempt {a}: {d:?} vs {full:?}"
            );
        }
        let mut again = Jitter::new(42);
        let replay: Vec<_> = (0..8).map(|a| again.delay(&b, a)).collect();
        assert_eq!(delays, replay);
        assert!(j.delay(&b, u32::MAX) <= Duration::from_secs(1));
    }
}
