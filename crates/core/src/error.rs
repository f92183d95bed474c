//! The core's error type: every failure a use case can report, each with a stable code.

use std::path::PathBuf;

use cohort_model::ModelError;
use cohort_store::StoreError;

/// Why a command or query failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No document, post, module... with that id.
    #[error("no {what} {id}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// The id or prefix given.
        id: String,
    },
    /// An id prefix that matches more than one document.
    #[error("{prefix:?} matches {count} documents; give more of the id")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// How many documents it matched.
        count: usize,
    },
    /// The request itself is wrong (empty title, wrong kind of document...).
    #[error("{0}")]
    InvalidInput(String),
    /// Another process holds the data dir.
    #[error(
        "the data dir {path} is in use by another Cohort process; close it or use another --data-dir"
    )]
    Locked {
        /// The data dir.
        path: PathBuf,
    },
    /// The data dir cannot be created, read or written.
    #[error("cannot use the data dir {path}: {source}")]
    DataDir {
        /// The data dir.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A document could not be read or edited.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    /// A stable, machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotFound { .. } => "not_found",
            CoreError::Ambiguous { .. } => "ambiguous_id",
            CoreError::InvalidInput(_) => "invalid_input",
            CoreError::Locked { .. } => "data_dir_locked",
            CoreError::DataDir { .. } => "data_dir_unusable",
            CoreError::Model(e) => e.code(),
            CoreError::Store(e) => e.code(),
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        CoreError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

/// The core's result type.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
