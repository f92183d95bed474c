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

/// A column holding something this build cannot read (a damaged or foreign row).
pub(crate) fn bad(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Blob,
        format!("invalid {what}").into(),
    )
}

/// A 16-byte id column.
pub(crate) fn id16(
    row: &rusqlite::Row<'_>,
    column: usize,
    what: &str,
) -> rusqlite::Result<[u8; 16]> {
    let bytes: Vec<u8> = row.get(column)?;
    bytes.try_into().map_err(|_| bad(column, what))
}

/// A heads column: the concatenation of 32-byte change hashes.
pub(crate) fn heads_column(
    row: &rusqlite::Row<'_>,
    column: usize,
) -> rusqlite::Result<Vec<[u8; 32]>> {
    let bytes: Vec<u8> = row.get(column)?;
    if !bytes.len().is_multiple_of(32) {
        return Err(bad(column, "heads"));
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

/// Heads as stored in a heads column.
pub(crate) fn heads_bytes(heads: &[[u8; 32]]) -> Vec<u8> {
    heads.concat()
}
