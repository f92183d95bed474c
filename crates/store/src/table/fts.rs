//! `fts_text` + `fts`: full-text search.
//!
//! `fts` is an FTS5 index with *external content*: it stores only the index (tokens,
//! positions, bm25 statistics). The text it indexes lives once, deflate-compressed, in
//! `fts_text.body_z`; the view `fts_source` inflates it (through the `cohort_inflate` SQL
//! function this module registers on every connection) so that FTS5's `snippet()` and
//! delete commands can read it. Measured on Markdown-ish English this costs about a third of
//! an uncompressed copy (see the crate guide).

use std::cell::RefCell;
use std::io::Read;

use cohort_model::{DocKind, SpaceId};
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};

use crate::types::FtsEntry;

/// Schema v1.
pub(crate) const V1: &str = "
CREATE TABLE fts_text (
    id     INTEGER PRIMARY KEY,
    doc    BLOB NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
    part   TEXT NOT NULL,
    title  TEXT NOT NULL,
    body_z BLOB NOT NULL
);
CREATE UNIQUE INDEX fts_text_by_doc ON fts_text(doc, part);
CREATE VIEW fts_source AS
    SELECT id, doc, part, title, cohort_inflate(body_z) AS body FROM fts_text;
CREATE VIRTUAL TABLE fts USING fts5(
    title, body,
    content = 'fts_source', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
";

/// Schema v2: documents whose rows are out of date. Typing in a long lesson marks it stale
/// instead of re-indexing 20 KB on every keystroke; the next search re-indexes it first.
pub(crate) const V2: &str = "
CREATE TABLE fts_stale (
    doc BLOB PRIMARY KEY REFERENCES docs(id) ON DELETE CASCADE
) WITHOUT ROWID;
";

/// Marks a document's rows out of date.
pub(crate) fn mark_stale(conn: &Connection, doc: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR IGNORE INTO fts_stale(doc) VALUES (?1)")?
        .execute([doc])?;
    Ok(())
}

/// Clears the out-of-date mark of a document whose rows were just rewritten.
pub(crate) fn clear_stale(conn: &Connection, doc: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM fts_stale WHERE doc = ?1")?
        .execute([doc])?;
    Ok(())
}

/// Documents whose rows are out of date.
pub(crate) fn stale(conn: &Connection) -> rusqlite::Result<Vec<Vec<u8>>> {
    let mut stmt = conn.prepare_cached("SELECT doc FROM fts_stale")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Bodies larger than this are refused by `cohort_inflate` (a damaged row must not exhaust
/// memory).
const MAX_BODY: u64 = 64 << 20;

/// Marks the start of a matched word in [`crate::SearchHit::snippet`].
pub const SNIPPET_START: &str = "\u{2}";
/// Marks the end of a matched word in [`crate::SearchHit::snippet`].
pub const SNIPPET_END: &str = "\u{3}";

/// Registers `cohort_inflate(blob) -> text`, used by the `fts_source` view.
pub(crate) fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "cohort_inflate",
        1,
        FunctionFlags::SQLITE_UTF8
            | FunctionFlags::SQLITE_DETERMINISTIC
            | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let data = ctx.get_raw(0).as_blob_or_null().map_err(|e| {
                rusqlite::Error::UserFunctionError(format!("cohort_inflate: {e}").into())
            })?;
            let Some(data) = data else {
                return Ok(None);
            };
            inflate(data)
                .map(Some)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into()))
        },
    )
}

thread_local! {
    /// One raw-deflate state per thread, reset for each text: setting one up allocates and
    /// clears a few hundred KB, which cost more than compressing a short post.
    static DEFLATE: RefCell<flate2::Compress> =
        RefCell::new(flate2::Compress::new(flate2::Compression::new(6), false));
}

fn deflate(text: &str) -> Vec<u8> {
    DEFLATE.with(|state| {
        let mut state = state.borrow_mut();
        state.reset();
        let input = text.as_bytes();
        let mut out = Vec::with_capacity(text.len() / 2 + 64);
        loop {
            let read = usize::try_from(state.total_in()).unwrap_or(usize::MAX);
            let rest = input.get(read..).unwrap_or_default();
            match state.compress_vec(rest, &mut out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return out,
                // Out of room: grow and go on.
                Ok(_) => out.reserve(out.capacity().max(64)),
                // Compressing from memory into memory does not fail; an empty body_z would
                // only make this row's snippet empty.
                Err(_) => return Vec::new(),
            }
        }
    })
}

fn inflate(data: &[u8]) -> Result<String, String> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(MAX_BODY + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("damaged search text: {e}"))?;
    if out.len() as u64 > MAX_BODY {
        return Err("search text too large".into());
    }
    String::from_utf8(out).map_err(|_| "search text is not UTF-8".into())
}

/// Deletes the rows of `doc` (only `part` if given) from the index and the text table.
pub(crate) fn remove(conn: &Connection, doc: &[u8], part: Option<&str>) -> rusqlite::Result<()> {
    // External content: the index entries are removed with the special 'delete' command,
    // which needs the indexed values; read them before deleting the text.
    conn.prepare_cached(
        "INSERT INTO fts(fts, rowid, title, body)
         SELECT 'delete', id, title, body FROM fts_source
         WHERE doc = ?1 AND (?2 IS NULL OR part = ?2)",
    )?
    .execute(params![doc, part])?;
    conn.prepare_cached("DELETE FROM fts_text WHERE doc = ?1 AND (?2 IS NULL OR part = ?2)")?
        .execute(params![doc, part])?;
    Ok(())
}

/// Inserts one row (the caller removed any row with the same part first).
pub(crate) fn insert(conn: &Connection, doc: &[u8], entry: &FtsEntry) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO fts_text(doc, part, title, body_z) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![doc, entry.part, entry.title, deflate(&entry.body)])?;
    let id = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO fts(rowid, title, body) VALUES (?1, ?2, ?3)")?
        .execute(params![id, entry.title, entry.body])?;
    Ok(())
}

/// Most terms a query keeps; the rest are ignored.
const MAX_TERMS: usize = 16;
/// Longest term kept (in characters).
const MAX_TERM_CHARS: usize = 64;

/// Turns arbitrary user text into an FTS5 query that cannot be a syntax error: every
/// whitespace-separated term becomes a quoted phrase (FTS5 operators and special characters
/// lose their meaning), terms are ANDed, and the last term matches as a prefix if it has at
/// least two characters (a one-character prefix would match most of the index). Terms
/// without a letter or digit are dropped, control characters count as spaces. Returns `None` when nothing searchable is left.
pub(crate) fn match_expression(query: &str) -> Option<String> {
    let (terms, prefix) = query_terms(query)?;
    let last = terms.len().checked_sub(1)?;
    let mut out = String::new();
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('"');
        out.push_str(&term.replace('"', "\"\""));
        out.push('"');
        if i == last && prefix {
            out.push('*');
        }
    }
    Some(out)
}

/// The terms [`match_expression`] keeps from `query`, and whether the last one matches as
/// a prefix. `None` when nothing searchable is left.
pub(crate) fn query_terms(query: &str) -> Option<(Vec<String>, bool)> {
    // Control characters (NUL above all) end an FTS5 string early; treat them as spaces.
    let query: String = query
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let terms: Vec<String> = query
        .split_whitespace()
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .take(MAX_TERMS)
        .map(|t| t.chars().take(MAX_TERM_CHARS).collect())
        .collect();
    let prefix = terms
        .last()?
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count()
        >= 2;
    Some((terms, prefix))
}

/// A matching row before its snippet is made.
pub(crate) struct RawHit {
    pub(crate) rowid: i64,
    pub(crate) rank: f64,
}

/// How many of the newest matching rows are scored with bm25 at first. Scoring costs about
/// 2 µs a row, so a word found in 60,000 posts would take over 100 ms to rank in full; a
/// query that matches more rows than this ranks the newest ones (recent discussion first).
pub(crate) const RANKED_CANDIDATES: usize = 2_000;

/// The best `limit` rows matching `expr` among live documents in the given spaces/kinds.
///
/// FTS5 walks the matches newest first and scores at most `candidates` of them with bm25;
/// the best-scored are then checked against the documents' space, kind and deleted flag.
/// Only when the filters reject too many does the window widen.
pub(crate) fn top(
    conn: &Connection,
    expr: &str,
    spaces: Option<&[SpaceId]>,
    kinds: Option<&[DocKind]>,
    limit: usize,
) -> rusqlite::Result<Vec<RawHit>> {
    let mut window = limit.saturating_mul(2).max(32);
    let mut candidates_cap = RANKED_CANDIDATES.max(window);
    let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    loop {
        let candidates: Vec<(i64, f64)> = {
            let mut stmt = conn.prepare_cached(
                "SELECT rowid, score FROM (
                     SELECT rowid, bm25(fts, 10.0, 1.0) AS score FROM fts WHERE fts MATCH ?1
                     ORDER BY rowid DESC LIMIT ?3
                 ) ORDER BY score LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![expr, as_i64(window), as_i64(candidates_cap)], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let exhausted = candidates.len() < window;
        let mut check = conn.prepare_cached(
            "SELECT d.deleted, d.space, d.kind FROM fts_text t JOIN docs d ON d.id = t.doc
             WHERE t.id = ?1",
        )?;
        let mut hits = Vec::with_capacity(limit);
        for (rowid, rank) in candidates {
            let row: Option<(bool, Vec<u8>, String)> = check
                .query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((deleted, space, kind)) = row else {
                continue;
            };
            let space_ok = spaces.is_none_or(|s| s.iter().any(|x| x.as_bytes()[..] == space[..]));
            let kind_ok = kinds.is_none_or(|k| k.iter().any(|x| x.as_str() == kind));
            if !deleted && space_ok && kind_ok {
                hits.push(RawHit { rowid, rank });
                if hits.len() == limit {
                    return Ok(hits);
                }
            }
        }
        if exhausted {
            return Ok(hits);
        }
        window = window.saturating_mul(4);
        candidates_cap = candidates_cap.max(window).saturating_mul(4);
    }
}

/// A hit's document fields and text, as stored (validated by the caller).
pub(crate) struct HitRow {
    pub(crate) doc: Vec<u8>,
    pub(crate) part: String,
    pub(crate) kind: String,
    pub(crate) space: Vec<u8>,
    pub(crate) title: String,
    pub(crate) body: String,
}

/// One hit's document fields and text, by primary key (no second full-text query).
pub(crate) fn hit_details(conn: &Connection, rowid: i64) -> rusqlite::Result<HitRow> {
    let (doc, part, kind, space, title, body_z): (
        Vec<u8>,
        String,
        String,
        Vec<u8>,
        String,
        Vec<u8>,
    ) = conn
        .prepare_cached(
            "SELECT t.doc, t.part, d.kind, d.space, d.title, t.body_z
             FROM fts_text t JOIN docs d ON d.id = t.doc WHERE t.id = ?1",
        )?
        .query_row([rowid], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
    let body = inflate(&body_z).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Blob, e.into())
    })?;
    Ok(HitRow {
        doc,
        part,
        kind,
        space,
        title,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_becomes_quoted_terms_with_a_prefix_last() {
        assert_eq!(match_expression("").as_deref(), None);
        assert_eq!(match_expression("  \" * - ( ").as_deref(), None);
        assert_eq!(
            match_expression("AND( x\"y lea").as_deref(),
            Some("\"AND(\" \"x\"\"y\" \"lea\"*")
        );
        assert_eq!(match_expression("a").as_deref(), Some("\"a\""));
    }

    #[test]
    fn deflated_text_round_trips() -> Result<(), String> {
        let text = "Ünïcode — and Markdown **bold** text. ".repeat(40);
        assert_eq!(inflate(&deflate(&text))?, text);
        assert!(inflate(b"not deflate data at all").is_err() || inflate(b"x").is_err());
        Ok(())
    }
}
