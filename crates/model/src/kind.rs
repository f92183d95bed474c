//! The kinds of document Cohort stores.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The kind of a document, stored in its header and in the store's index.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A person's display name and devices (personal space).
    Profile,
    /// A cohort's name, purpose, norms, schedule and milestones.
    Charter,
    /// A space's membership log.
    Membership,
    /// A course: title, summary, ordered modules of lessons.
    Course,
    /// A lesson: Markdown body, checklist, self-check questions, attachments.
    Lesson,
    /// A discussion thread: question, idea or how-to.
    Thread,
    /// A note.
    Note,
    /// A journal entry (private by default).
    JournalEntry,
    /// One learner's progress in one space.
    Progress,
}

impl DocKind {
    /// Every kind, in a fixed order.
    pub const ALL: [DocKind; 9] = [
        DocKind::Profile,
        DocKind::Charter,
        DocKind::Membership,
        DocKind::Course,
        DocKind::Lesson,
        DocKind::Thread,
        DocKind::Note,
        DocKind::JournalEntry,
        DocKind::Progress,
    ];

    /// The stable name stored in documents and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            DocKind::Profile => "profile",
            DocKind::Charter => "charter",
            DocKind::Membership => "membership",
            DocKind::Course => "course",
            DocKind::Lesson => "lesson",
            DocKind::Thread => "thread",
            DocKind::Note => "note",
            DocKind::JournalEntry => "journal_entry",
            DocKind::Progress => "progress",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A kind name that Cohort does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown document kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for DocKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.chars().take(64).collect()))
    }
}
