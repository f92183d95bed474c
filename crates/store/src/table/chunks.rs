//! `chunks`: incremental Automerge change chunks appended since a document's snapshot.

use rusqlite::{Connection, params};

/// Schema v1. `seq` orders a document's chunks; rows go away on compaction or `Replace`.
pub(crate) const V1: &str = "
CREATE TABLE chunks (
    id   INTEGER PRIMARY KEY,
    doc  BLOB NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    seq  INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX chunks_by_doc ON chunks(doc, seq);
";

pub(crate) fn append(conn: &Connection, doc: &[u8], data: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO chunks(doc, seq, data)
         VALUES (?1, coalesce((SELECT max(seq) FROM chunks WHERE doc = ?1), 0) + 1, ?2)",
    )?
    .execute(params![doc, data])?;
    Ok(())
}

pub(crate) fn delete_all(conn: &Connection, doc: &[u8]) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM chunks WHERE doc = ?1")?
        .execute([doc])
}

/// All chunks of a document, oldest first.
pub(crate) fn load(conn: &Connection, doc: &[u8]) -> rusqlite::Result<Vec<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT data FROM chunks WHERE doc = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([doc], |r| r.get(0))?;
    rows.collect()
}

/// (number of chunks, total bytes) of a document.
pub(crate) fn count(conn: &Connection, doc: &[u8]) -> rusqlite::Result<(u64, u64)> {
    conn.prepare_cached(
        "SELECT count(*), coalesce(sum(length(data)), 0) FROM chunks WHERE doc = ?1",
    )?
    .query_row([doc], |r| {
        Ok((super::get_u64(r, 0)?, super::get_u64(r, 1)?))
    })
}
