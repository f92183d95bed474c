//! The model's error type.

use crate::DocKind;

/// Why a document could not be read or an edit could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The bytes or document are not a Cohort document at all.
    #[error("not a Cohort document: {0}")]
    NotCohort(String),
    /// The document was written by a newer version of Cohort.
    #[error(
        "document schema version {found} is newer than this version of Cohort supports ({supported}); update Cohort to open it"
    )]
    NewerSchema {
        /// The version in the document.
        found: u64,
        /// The newest version this build reads.
        supported: u64,
    },
    /// The document is a Cohort document of another kind.
    #[error("expected a {expected} document, found a {found} document")]
    WrongKind {
        /// The kind the caller asked for.
        expected: DocKind,
        /// The kind in the document's header.
        found: DocKind,
    },
    /// A field is missing or has the wrong type or value.
    #[error("malformed document: {path}: {problem}")]
    Malformed {
        /// Where in the document, e.g. `posts[3].author`.
        path: String,
        /// What is wrong there.
        problem: String,
    },
    /// An item (post, module, checklist item...) named by an edit does not exist.
    #[error("no {what} with id {id} in this document")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// The id that was not found.
        id: String,
    },
    /// An edit that cannot apply, e.g. a splice outside the text.
    #[error("invalid edit: {0}")]
    InvalidEdit(String),
    /// Automerge rejected the bytes or an operation.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

impl ModelError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::NotCohort(_) => "not_cohort_document",
            ModelError::NewerSchema { .. } => "newer_schema",
            ModelError::WrongKind { .. } => "wrong_kind",
            ModelError::Malformed { .. } => "malformed_document",
            ModelError::NotFound { .. } => "not_found",
            ModelError::InvalidEdit(_) => "invalid_edit",
            ModelError::Automerge(_) => "automerge",
        }
    }

    pub(crate) fn malformed(path: impl Into<String>, problem: impl Into<String>) -> Self {
        ModelError::Malformed {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// The model's result type.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
