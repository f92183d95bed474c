//! Cohort's document model.
//!
//! Every course, lesson, thread, note, journal entry, charter, membership log, profile and
//! progress record is one Automerge document. This crate defines their schema: a header
//! at the root of every document (`schema`, `kind`, `id`, `space`), typed read functions that
//! validate what they read and name the path of anything malformed, and edit functions that
//! write through any [`automerge::transaction::Transactable`].
//!
//! The crate is pure: no I/O, no clock, no randomness. Ids ([`DocId`], [`ItemId`], ...) and
//! times ([`Timestamp`]) are chosen by the caller, so tests are deterministic.
//!
//! Text bodies are Automerge Text, edited by [`Splice`]s whose positions count UTF-16 code
//! units (what editors report), so concurrent edits merge per character.
//!
//! ```
//! use automerge::AutoCommit;
//! use cohort_model::{DocId, ItemId, Lesson, NewLesson, PersonId, SpaceId, Splice, Timestamp};
//!
//! let mut doc = AutoCommit::new();
//! Lesson::create(&mut doc, &NewLesson {
//!     id: DocId::from_bytes([1; 16]),
//!     space: SpaceId::from_bytes([2; 16]),
//!     course: DocId::from_bytes([3; 16]),
//!     title: "Photosynthesis",
//!     body: "Light becomes sugar.",
//!     created_by: PersonId::from_bytes([4; 16]),
//!     created_at: Timestamp(1_700_000_000_000),
//! })?;
//! Lesson::splice_body(&mut doc, &Splice::insert(0, "🌱 "))?;
//! let lesson = Lesson::read(&doc)?;
//! assert_eq!(lesson.body, "🌱 Light becomes sugar.");
//! # Ok::<(), cohort_model::ModelError>(())
//! ```

mod access;
mod charter;
mod course;
mod error;
mod header;
mod ids;
mod kind;
mod lesson;
mod membership;
mod note;
mod profile;
mod progress;
mod text;
mod thread;

pub use charter::{Charter, Milestone, Session};
pub use course::{Course, Module, NewCourse};
pub use error::{ModelError, Result};
pub use header::{Header, SCHEMA_VERSION, expect_kind, load, read_header, set_deleted};
pub use ids::{DocId, ItemId, ParseIdError, PersonId, SpaceId, Timestamp};
pub use kind::{DocKind, UnknownKind};
pub use lesson::{
    Anchor, AnchorState, Attachment, ChecklistItem, Lesson, LessonSummary, NewLesson, Question,
};
pub use membership::{Entry, EntryKind, Membership, Role, UnreadableEntry};
pub use note::{JournalEntry, NewText, Note};
pub use profile::{Device, MAX_DISPLAY_NAME, Profile};
pub use progress::{LessonProgress, Progress};
pub use text::{Splice, utf16_len};
pub use thread::{NewPost, NewThread, Post, Thread, ThreadKind, ThreadSummary};
