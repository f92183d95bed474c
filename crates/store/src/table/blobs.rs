//! `blobs`: content-addressed attachments (BLAKE3).

use rusqlite::{Connection, OptionalExtension, params};

use crate::types::BlobHash;

/// Schema v1.
pub(crate) const V1: &str = "
CREATE TABLE blobs (
    hash BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    data BLOB NOT NULL
);
";

pub(crate) fn put(conn: &Connection, data: &[u8]) -> rusqlite::Result<BlobHash> {
    let hash = BlobHash::of(data);
    conn.prepare_cached("INSERT OR IGNORE INTO blobs(hash, data) VALUES (?1, ?2)")?
        .execute(params![&hash.0[..], data])?;
    Ok(hash)
}

pub(crate) fn get(conn: &Connection, hash: &BlobHash) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT data FROM blobs WHERE hash = ?1")?
        .query_row([&hash.0[..]], |r| r.get(0))
        .optional()
}
