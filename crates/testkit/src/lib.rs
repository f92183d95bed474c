//! Dev-only helpers for Cohort's tests and benchmarks: temporary data dirs, a core with a
//! fixed clock and sequential ids, and generated data sets of realistic size.
//!
//! ```
//! let dir = cohort_testkit::temp_dir()?;
//! let mut core = cohort_testkit::open(dir.path())?;
//! let data = cohort_testkit::generate(&mut core, &cohort_testkit::Spec::tiny())?;
//! assert_eq!(data.courses.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! ```

mod generate;

use std::path::Path;
use std::sync::Arc;

use cohort_core::{Core, ManualClock, OpenOptions, SequentialIds};
use cohort_model::Timestamp;

pub use generate::{Generated, Spec, generate, markdown, thread_with_posts};

/// 2024-01-01T00:00:00Z, the start of every test clock.
pub const EPOCH: Timestamp = Timestamp(1_704_067_200_000);

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("cohort-test-").tempdir()
}

/// Opens a data dir with a clock fixed at [`EPOCH`] and ids counting up from seed 1.
pub fn open(dir: &Path) -> cohort_core::Result<Core> {
    open_seeded(dir, 1)
}

/// Opens a data dir with a fixed clock and ids counting up from `seed` (use distinct seeds
/// for data dirs that must not share ids).
pub fn open_seeded(dir: &Path, seed: u64) -> cohort_core::Result<Core> {
    Core::open(
        dir,
        OpenOptions {
            clock: Arc::new(ManualClock::new(EPOCH)),
            ids: Box::new(SequentialIds::new(seed)),
            display_name: Some("Test Learner".into()),
            cache_docs: 256,
        },
    )
}
