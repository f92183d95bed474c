//! Cohort's core: the composition root that opens a data dir and runs every use case.
//!
//! A [`Core`] owns one data dir: an exclusive lock file, the SQLite [`cohort_store::Store`],
//! this device's Automerge actor id, and the person's identity (a personal space and a
//! profile, created on first run). Each command (create a course, reply to a thread, tick a
//! checklist item...) edits Automerge documents through [`cohort_model`], writes the new
//! changes, the index row and full-text entries in one SQLite transaction, and returns only
//! after that transaction has committed. Then it emits a [`ChangeEvent`] to subscribers.
//!
//! Time and ids come from an injected [`Clock`] and [`IdSource`], so tests can be exact.
//!
//! ```
//! use cohort_core::{Core, OpenOptions};
//! use cohort_model::ThreadKind;
//!
//! let dir = tempfile::tempdir()?;
//! let mut core = Core::open(dir.path(), OpenOptions::default())?;
//! let cohort = core.create_cohort("Evening Rust", "Learn Rust together")?;
//! let course = core.create_course(cohort, "Ownership", "")?;
//! let lesson = core.add_lesson(course, None, "Borrowing", "A reference borrows a value.")?;
//! core.new_thread(cohort, ThreadKind::Question, "Why borrow?", "Why not copy?", Some(lesson), Some((2, 11)))?;
//! let hits = core.search("borrow", None, None, 10)?;
//! assert!(!hits.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod app;
mod env;
mod error;
mod index;
pub mod node;
mod sync_views;
mod views;

pub use app::refusal_message;
pub use app::{
    COMPACT_AFTER_CHUNKS, Core, DB_FILE, DEVICE_KEY_FILE, EVENT_CAPACITY, INGEST_BYTES,
    INGEST_DOCS, LOCK_FILE, OpenOptions, PreparedBatch, ReceivedBatch,
};
pub use cohort_sync::DeviceId;
pub use cohort_sync::engine::{ConnId, Effect as EngineEffect, Event as EngineEvent};
pub use env::{Clock, IdSource, ManualClock, RandomIds, SequentialIds, SystemClock};
pub use error::{CoreError, Result};
pub use sync_views::{
    DeviceAddView, DeviceLinkView, DeviceView, InviteView, JoinView, LinkingView, PeerView,
    SpaceSyncView, SyncNotice, SyncNoticeKind,
};
pub use views::{
    ChangeEvent, ChangeKind, CourseView, DocSummary, HistoryEntry, LessonRef, LessonView, Me,
    MemberView, ModuleView, SearchResult, SpaceInfo, Stats, ThreadView,
};
