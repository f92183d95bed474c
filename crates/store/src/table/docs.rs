//! `docs`: one row per document: index metadata, heads and the compacted snapshot.

use cohort_model::{DocId, DocKind, SpaceId, Timestamp};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{bad, heads_bytes, heads_column, id16};
use crate::types::DocMeta;

/// Schema v1. `snapshot` is last so list queries rarely touch its overflow pages; `heads` is
/// the concatenation of 32-byte change hashes.
pub(crate) const V1: &str = "
CREATE TABLE docs (
    id         BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    space      BLOB NOT NULL CHECK (length(space) = 16),
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    parent     BLOB CHECK (parent IS NULL OR length(parent) = 16),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted    INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    summary    TEXT NOT NULL,
    heads      BLOB NOT NULL CHECK (length(heads) % 32 = 0),
    snapshot   BLOB NOT NULL
);
CREATE INDEX docs_by_updated ON docs(updated_at DESC);
CREATE INDEX docs_by_kind ON docs(kind, updated_at DESC);
CREATE INDEX docs_by_space ON docs(space, kind, updated_at DESC);
CREATE INDEX docs_by_parent ON docs(parent, updated_at DESC) WHERE parent IS NOT NULL;
";

/// The metadata columns, in the order [`meta_from_row`] reads them.
pub(crate) const META_COLUMNS: &str =
    "id, space, kind, title, parent, created_at, updated_at, deleted, summary, heads";

/// Reads a [`DocMeta`] from [`META_COLUMNS`] starting at column `at`.
pub(crate) fn meta_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<DocMeta> {
    let kind: String = row.get(at + 2)?;
    let parent: Option<Vec<u8>> = row.get(at + 4)?;
    let parent = match parent {
        None => None,
        Some(p) => Some(DocId::from_bytes(
            p.try_into().map_err(|_| bad(at + 4, "parent"))?,
        )),
    };
    let heads = heads_column(row, at + 9)?;
    Ok(DocMeta {
        id: DocId::from_bytes(id16(row, at, "id")?),
        space: SpaceId::from_bytes(id16(row, at + 1, "space")?),
        kind: kind.parse::<DocKind>().map_err(|_| bad(at + 2, "kind"))?,
        title: row.get(at + 3)?,
        parent,
        created_at: Timestamp(row.get(at + 5)?),
        updated_at: Timestamp(row.get(at + 6)?),
        deleted: row.get(at + 7)?,
        summary: row.get(at + 8)?,
        heads,
    })
}

/// `(id, heads)` from a row selecting exactly those two columns.
pub(crate) fn id_and_heads(row: &Row<'_>) -> rusqlite::Result<crate::DocHeads> {
    Ok((
        DocId::from_bytes(id16(row, 0, "id")?),
        heads_column(row, 1)?,
    ))
}

/// Inserts or updates a document's metadata; a new row gets an empty snapshot.
pub(crate) fn upsert_meta(conn: &Connection, meta: &DocMeta) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO docs(id, space, kind, title, parent, created_at, updated_at, deleted,
                          summary, heads, snapshot)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, x'')
         ON CONFLICT(id) DO UPDATE SET space = excluded.space, kind = excluded.kind,
             title = excluded.title, parent = excluded.parent,
             created_at = excluded.created_at, updated_at = excluded.updated_at,
             deleted = excluded.deleted, summary = excluded.summary, heads = excluded.heads",
    )?
    .execute(params![
        &meta.id.as_bytes()[..],
        &meta.space.as_bytes()[..],
        meta.kind.as_str(),
        meta.title,
        meta.parent.as_ref().map(|p| &p.as_bytes()[..]),
        meta.created_at.0,
        meta.updated_at.0,
        meta.deleted,
        meta.summary,
        heads_bytes(&meta.heads),
    ])?;
    Ok(())
}

/// Deletes a document's row (its chunks go with it).
pub(crate) fn delete(conn: &Connection, id: &[u8]) -> rusqlite::Result<usize> {
    conn.prepare_cached("DELETE FROM docs WHERE id = ?1")?
        .execute([id])
}

pub(crate) fn exists(conn: &Connection, id: &[u8]) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM docs WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()
        .map(|o| o.is_some())
}

pub(crate) fn set_snapshot(conn: &Connection, id: &[u8], snapshot: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE docs SET snapshot = ?2 WHERE id = ?1")?
        .execute(params![id, snapshot])?;
    Ok(())
}

/// The snapshot length without reading the snapshot.
pub(crate) fn snapshot_len(conn: &Connection, id: &[u8]) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT length(snapshot) FROM docs WHERE id = ?1")?
        .query_row([id], |r| super::get_u64(r, 0))
}

pub(crate) fn meta(conn: &Connection, id: &[u8]) -> rusqlite::Result<Option<DocMeta>> {
    conn.prepare_cached(&format!("SELECT {META_COLUMNS} FROM docs WHERE id = ?1"))?
        .query_row([id], |r| meta_from_row(r, 0))
        .optional()
}

pub(crate) fn meta_and_snapshot(
    conn: &Connection,
    id: &[u8],
) -> rusqlite::Result<Option<(DocMeta, Vec<u8>)>> {
    conn.prepare_cached(&format!(
        "SELECT {META_COLUMNS}, snapshot FROM docs WHERE id = ?1"
    ))?
    .query_row([id], |r| Ok((meta_from_row(r, 0)?, r.get(10)?)))
    .optional()
}
