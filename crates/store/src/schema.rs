//! Opening checks and append-only migrations (`PRAGMA user_version`).

use std::path::Path;

use rusqlite::Connection;

use crate::error::StoreError;
use crate::table::{blobs, chunks, docs, fts, inbox, kv};

/// `PRAGMA application_id` of a Cohort database: "Chrt".
pub const APPLICATION_ID: i32 = 0x4368_7274;

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`. Append only: a
/// shipped migration is never edited. Each step's SQL lives beside its table.
const MIGRATIONS: &[&[&str]] = &[
    // v1
    &[docs::V1, chunks::V1, fts::V1, blobs::V1, kv::V1],
    // v2
    &[fts::V2],
    // v3
    &[inbox::V3],
];

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Page size of new databases: most snapshots are a few KiB, and 16 KiB pages waste far less
/// space on them than 4 KiB pages (measured: 1.10x vs 1.39x of the snapshot bytes).
const PAGE_SIZE: u32 = 16384;

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Checks that the file is ours (or empty), prepares a new file, and migrates.
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let map = |e| StoreError::from_sqlite(e, path);
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(map)?;
    let objects: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
            [],
            |r| r.get(0),
        )
        .map_err(map)?;
    if app_id != APPLICATION_ID && (app_id != 0 || objects > 0) {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
        });
    }
    let found = user_version(conn).map_err(map)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if objects == 0 {
        // Must precede the switch to WAL and the first table.
        conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE}"))
            .map_err(map)?;
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(map)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "could not switch the database to WAL");
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
        .map_err(map)?;
    for (index, steps) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(map)?;
        // Another process may have migrated while we waited for the lock.
        if user_version(&tx).map_err(map)? >= version {
            continue;
        }
        for sql in *steps {
            tx.execute_batch(sql).map_err(map)?;
        }
        tx.execute_batch(&format!(
            "PRAGMA user_version = {version}; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .map_err(map)?;
        tx.commit().map_err(map)?;
        tracing::info!(version, "migrated the store schema");
    }
    Ok(())
}
