//! `inbox`: documents a peer sent whole, kept as sent (bytes and the heads the peer named)
//! until the core has loaded, checked and indexed them. An id is in `docs` or here, never
//! both.

use cohort_model::{DocId, SpaceId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{heads_bytes, heads_column, id16};
use crate::types::{Received, ReceivedHeads};

/// Schema v3. `seq` keeps arrival order.
pub(crate) const V3: &str = "
CREATE TABLE inbox (
    seq   INTEGER PRIMARY KEY,
    id    BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
    space BLOB NOT NULL CHECK (length(space) = 16),
    heads BLOB NOT NULL CHECK (length(heads) > 0 AND length(heads) % 32 = 0),
    bytes BLOB NOT NULL
);
CREATE INDEX inbox_by_space ON inbox(space);
";

/// Reads `id, space, heads, bytes`.
fn received(row: &Row<'_>) -> rusqlite::Result<Received> {
    Ok(Received {
        id: DocId::from_bytes(id16(row, 0, "id")?),
        space: SpaceId::from_bytes(id16(row, 1, "space")?),
        heads: heads_column(row, 2)?,
        bytes: row.get(3)?,
    })
}

pub(crate) fn insert(conn: &Connection, r: &Received) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO inbox(id, space, heads, bytes) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            r.id.as_bytes(),
            r.space.as_bytes(),
            heads_bytes(&r.heads),
            r.bytes
        ])?;
    Ok(())
}

pub(crate) fn delete(conn: &Connection, id: &[u8]) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM inbox WHERE id = ?1")?
        .execute([id])
}

pub(crate) fn get(conn: &Connection, id: &[u8]) -> rusqlite::Result<Option<Received>> {
    conn.prepare_cached("SELECT id, space, heads, bytes FROM inbox WHERE id = ?1")?
        .query_row([id], received)
        .optional()
}

/// The space and heads of a kept document, without its bytes.
pub(crate) fn heads(conn: &Connection, id: &[u8]) -> rusqlite::Result<Option<ReceivedHeads>> {
    conn.prepare_cached("SELECT space, heads FROM inbox WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((
                SpaceId::from_bytes(id16(r, 0, "space")?),
                heads_column(r, 1)?,
            ))
        })
        .optional()
}

/// The oldest kept documents after position `after`, with their positions: at most
/// `limit`, and no more than `max_bytes` of bytes (but always at least one).
pub(crate) fn oldest(
    conn: &Connection,
    after: i64,
    limit: usize,
    max_bytes: usize,
) -> rusqlite::Result<Vec<(i64, Received)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, space, heads, bytes, seq FROM inbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query(params![after, limit])?;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(row) = rows.next()? {
        let r = received(row)?;
        total += r.bytes.len();
        if !out.is_empty() && total > max_bytes {
            break;
        }
        out.push((row.get(4)?, r));
    }
    Ok(out)
}

/// How many documents are kept per space.
pub(crate) fn counts(conn: &Connection) -> rusqlite::Result<Vec<(SpaceId, u64)>> {
    let mut stmt = conn.prepare_cached("SELECT space, count(*) FROM inbox GROUP BY space")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            SpaceId::from_bytes(id16(r, 0, "space")?),
            super::get_u64(r, 1)?,
        ))
    })?;
    rows.collect()
}
