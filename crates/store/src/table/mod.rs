//! One module per table: each holds the migrations that create or change its table (append
//! only: a shipped migration is never edited) and the SQL that reads and writes it.

pub(crate) mod blobs;
pub(crate) mod chunks;
pub(crate) mod docs;
pub(crate) mod fts;
pub(crate) mod inbox;
pub(crate) mod kv;

/// Reads a non-negative integer column (counts and lengths) as `u64`.
pub(crate) fn get_u64(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(column)?;
    Ok(u64::try_from(v).unwrap_or(0))
}
