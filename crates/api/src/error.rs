//! `{ code, message }`: the one error shape every adapter sees.

use serde::{Deserialize, Serialize};

/// What kind of failure an [`ApiError`] is. Adapters branch on this, never on the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No such document, space, post...
    NotFound,
    /// An id prefix matched more than one thing.
    AmbiguousId,
    /// The request is wrong (empty title, wrong kind of document, bad id text...).
    InvalidInput,
    /// An edit that cannot apply (a splice outside the text...).
    InvalidEdit,
    /// Another Cohort process has the data dir open.
    DataDirLocked,
    /// The data dir cannot be created, read or written.
    DataDirUnusable,
    /// The data dir or its database is read-only.
    ReadOnly,
    /// The disk is full; nothing committed was lost.
    DiskFull,
    /// The database is busy (another process holds a write lock).
    Busy,
    /// The database file is not a database, or is damaged.
    CorruptDatabase,
    /// The database file belongs to another application.
    ForeignDatabase,
    /// The data was written by a newer version of Cohort.
    NewerVersion,
    /// A file or document is not a (valid) Cohort document.
    InvalidDocument,
    /// Anything else: a bug or an unexpected system failure.
    Internal,
}

impl ErrorCode {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotFound => "not_found",
            ErrorCode::AmbiguousId => "ambiguous_id",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::InvalidEdit => "invalid_edit",
            ErrorCode::DataDirLocked => "data_dir_locked",
            ErrorCode::DataDirUnusable => "data_dir_unusable",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::DiskFull => "disk_full",
            ErrorCode::Busy => "busy",
            ErrorCode::CorruptDatabase => "corrupt_database",
            ErrorCode::ForeignDatabase => "foreign_database",
            ErrorCode::NewerVersion => "newer_version",
            ErrorCode::InvalidDocument => "invalid_document",
            ErrorCode::Internal => "internal",
        }
    }

    /// Maps a lower layer's stable code onto the closed set adapters see.
    pub fn from_layer_code(code: &str) -> ErrorCode {
        match code {
            "not_found" => ErrorCode::NotFound,
            "ambiguous_id" => ErrorCode::AmbiguousId,
            "invalid_input" | "wrong_kind" => ErrorCode::InvalidInput,
            "invalid_edit" => ErrorCode::InvalidEdit,
            "data_dir_locked" => ErrorCode::DataDirLocked,
            "data_dir_unusable" | "store_io" => ErrorCode::DataDirUnusable,
            "store_read_only" => ErrorCode::ReadOnly,
            "store_disk_full" => ErrorCode::DiskFull,
            "store_busy" => ErrorCode::Busy,
            "store_not_a_database" | "store_corrupt" | "store_missing_doc" | "store_automerge" => {
                ErrorCode::CorruptDatabase
            }
            "store_foreign" => ErrorCode::ForeignDatabase,
            "newer_schema" | "store_newer_schema" => ErrorCode::NewerVersion,
            "not_cohort_document" | "malformed_document" | "automerge" => {
                ErrorCode::InvalidDocument
            }
            _ => ErrorCode::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as adapters see it: a closed code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, ts_rs::TS)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened, in words for the person using the app.
    pub message: String,
}

impl ApiError {
    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError {
            code: ErrorCode::InvalidInput,
            message: message.into(),
        }
    }
}

impl From<cohort_core::CoreError> for ApiError {
    fn from(e: cohort_core::CoreError) -> Self {
        ApiError {
            code: ErrorCode::from_layer_code(e.code()),
            message: e.to_string(),
        }
    }
}

/// The API's result type.
pub type ApiResult<T> = Result<T, ApiError>;
