//! The store's error type and the mapping from SQLite's error codes.

use std::path::{Path, PathBuf};

use cohort_model::DocId;
use rusqlite::ErrorCode;

/// Everything that can go wrong in the store, precise enough for the app to tell the user
/// what happened and what to do. [`StoreError::code`] gives a stable machine-readable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but is not an SQLite database.
    #[error("{path} is not a Cohort database (it is not an SQLite file)")]
    NotADatabase {
        /// The database file.
        path: PathBuf,
    },
    /// The database file is damaged.
    #[error("the database {path} is damaged: {detail}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was found wrong.
        detail: String,
    },
    /// The file is an SQLite database that belongs to another application.
    #[error("{path} belongs to another application, not Cohort")]
    Foreign {
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by a newer Cohort.
    #[error(
        "the database uses schema version {found}, but this Cohort only knows up to {supported}; update Cohort"
    )]
    NewerSchema {
        /// The schema version in the file.
        found: u32,
        /// The newest schema version this build knows.
        supported: u32,
    },
    /// The database file or its directory cannot be written (or the file cannot be opened).
    #[error("cannot write to {path}: the file or its folder is read-only or inaccessible")]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// The disk is full; nothing of the failed write was saved.
    #[error("the disk is full; the last change was not saved")]
    DiskFull,
    /// Another process holds the database lock for longer than the busy timeout.
    #[error("the database is busy (is another Cohort running on the same data folder?)")]
    Busy,
    /// An operating-system I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A `MetaOnly` write named a document that is not stored.
    #[error("document {id} is not stored, so its metadata alone cannot be written")]
    MissingDoc {
        /// The document.
        id: DocId,
    },
    /// Compacting a document failed: its stored changes do not load, or do not reproduce the
    /// heads recorded in its metadata. Nothing was changed.
    #[error("cannot compact document {id}: {detail}")]
    Automerge {
        /// The document.
        id: DocId,
        /// What went wrong.
        detail: String,
    },
    /// Any other SQLite error.
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
}

impl StoreError {
    /// A stable snake_case code for the API boundary (`{ code, message }`); the UI branches on
    /// this, never on the message text.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotADatabase { .. } => "store_not_a_database",
            StoreError::Corrupt { .. } => "store_corrupt",
            StoreError::Foreign { .. } => "store_foreign",
            StoreError::NewerSchema { .. } => "store_newer_schema",
            StoreError::ReadOnly { .. } => "store_read_only",
            StoreError::DiskFull => "store_disk_full",
            StoreError::Busy => "store_busy",
            StoreError::Io(_) => "store_io",
            StoreError::MissingDoc { .. } => "store_missing_doc",
            StoreError::Automerge { .. } => "store_automerge",
            StoreError::Sqlite(_) => "store_sqlite",
        }
    }

    /// Maps a SQLite error to the variant the user can act on, naming `path`.
    pub fn from_sqlite(err: rusqlite::Error, path: &Path) -> StoreError {
        let code = match &err {
            rusqlite::Error::SqliteFailure(e, _) => Some(e.code),
            _ => None,
        };
        let path = path.to_path_buf();
        match code {
            Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                detail: err.to_string(),
            },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                StoreError::ReadOnly { path }
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy,
            _ => StoreError::Sqlite(err),
        }
    }
}
