//! What queries return: plain, serializable views for the API and its adapters.

use std::collections::BTreeMap;

use cohort_model::{
    AnchorState, Course, DocId, DocKind, ItemId, Lesson, LessonProgress, PersonId, SpaceId, Thread,
    Timestamp,
};
use cohort_store::DocMeta;
use serde::Serialize;

/// A space this device holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SpaceInfo {
    /// The space.
    pub id: SpaceId,
    /// The cohort's name, or "Personal".
    pub name: String,
    /// Whether this is the person's own private space.
    pub personal: bool,
    /// This person's role in the cohort: `None` for the personal space (all theirs), and
    /// for a cohort they are not, or no longer, a member of.
    pub role: Option<cohort_model::Role>,
}

/// Who this device belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Me {
    /// The person.
    pub person: PersonId,
    /// Their display name.
    pub display_name: String,
    /// Their personal space.
    pub personal_space: SpaceId,
    /// This device's id: its Ed25519 public key (hex), also its Automerge actor id.
    pub device: String,
}

/// A member of a cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct MemberView {
    /// The person.
    pub person: PersonId,
    /// Their display name (or a short id when their profile is not held here).
    pub name: String,
    /// Their role.
    pub role: cohort_model::Role,
    /// How many devices they have in the cohort.
    pub devices: usize,
    /// Whether this is you.
    pub you: bool,
}

/// One row of a list view, from the store's index (no document is loaded).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct DocSummary {
    /// The document.
    pub id: DocId,
    /// Its space.
    pub space: SpaceId,
    /// Its kind.
    pub kind: DocKind,
    /// Title (or name).
    pub title: String,
    /// The course of a lesson, the lesson of a thread.
    pub parent: Option<DocId>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed on this device.
    pub updated_at: Timestamp,
    /// Kind-specific counts and flags (post count, accepted answer...).
    pub info: serde_json::Value,
}

impl From<DocMeta> for DocSummary {
    fn from(m: DocMeta) -> Self {
        DocSummary {
            id: m.id,
            space: m.space,
            kind: m.kind,
            title: m.title,
            parent: m.parent,
            created_at: m.created_at,
            updated_at: m.updated_at,
            info: serde_json::from_str(&m.summary).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A course with its outline and this learner's progress.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct CourseView {
    /// The course document.
    pub course: Course,
    /// Lesson titles and completion, per module, in order.
    pub outline: Vec<ModuleView>,
}

/// One module of a course outline.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct ModuleView {
    /// Module id.
    pub id: ItemId,
    /// Module title.
    pub title: String,
    /// Lessons in order.
    pub lessons: Vec<LessonRef>,
}

/// A lesson as listed in an outline.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct LessonRef {
    /// The lesson.
    pub id: DocId,
    /// Its title (empty if this device does not hold the lesson yet).
    pub title: String,
    /// Whether the learner completed it.
    pub completed: bool,
}

/// A lesson with its discussion and this learner's progress.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct LessonView {
    /// The lesson document.
    pub lesson: Lesson,
    /// Threads about this lesson.
    pub threads: Vec<DocSummary>,
    /// This learner's progress in it.
    pub progress: LessonProgress,
}

/// A thread with its anchor resolved and authors named.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct ThreadView {
    /// The thread document.
    pub thread: Thread,
    /// Where the anchor points now, if the thread is anchored and the lesson is here.
    pub anchor: Option<AnchorState>,
    /// Display names of the people in the thread.
    pub people: BTreeMap<PersonId, String>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct SearchResult {
    /// The document.
    pub doc: DocId,
    /// The post id for a thread hit; empty otherwise.
    pub part: String,
    /// The document's kind.
    pub kind: DocKind,
    /// Its space.
    pub space: SpaceId,
    /// Its title.
    pub title: String,
    /// A short passage of the matching text.
    pub snippet: String,
    /// Byte ranges `[start, end)` of the matched words within `snippet`.
    pub highlights: Vec<[usize; 2]>,
}

/// One change in a document's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct HistoryEntry {
    /// The change hash (hex).
    pub hash: String,
    /// The writing device's actor id (hex).
    pub actor: String,
    /// The person behind that device, if known here.
    pub author: Option<String>,
    /// When it was made (as recorded by its device, in seconds precision).
    pub at: Timestamp,
    /// What the change did.
    pub message: String,
    /// How many operations it holds.
    pub ops: usize,
}

/// What happened to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// It was created here.
    Created,
    /// It was edited here.
    Updated,
    /// It was marked deleted.
    Deleted,
    /// Changes arrived from outside (import, later sync).
    Imported,
}

/// Emitted after every committed mutation, for the UI and the sync engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ChangeEvent {
    /// The document.
    pub doc: DocId,
    /// Its space.
    pub space: SpaceId,
    /// Its kind.
    pub kind: DocKind,
    /// What happened.
    pub change: ChangeKind,
}

/// Storage statistics.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Stats {
    /// Documents stored.
    pub docs: u64,
    /// Pending change chunks (not yet compacted).
    pub chunks: u64,
    /// Bytes of document snapshots.
    pub snapshot_bytes: u64,
    /// Bytes of change chunks.
    pub chunk_bytes: u64,
    /// Size of the database file.
    pub file_bytes: u64,
}
