//! [`Store`]: the connection and every operation on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use automerge::AutoCommit;
use cohort_model::{DocId, DocKind, SpaceId};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::StoreError;
use crate::schema;
use crate::snippet::Highlighter;
use crate::table::{blobs, chunks, docs, fts, get_u64, inbox, kv};
use crate::types::{
    BlobHash, CompactStats, DocData, DocHeads, DocMeta, FtsUpdate, ListFilter, Received,
    ReceivedHeads, SearchHit, SearchOptions, StoreStats, StoredDoc, WriteBatch, WriteOutcome,
};

/// Chunks are also compacted once their bytes pass both this and the snapshot's size, so a
/// small document edited many times does not reload its history on every few edits.
pub const COMPACT_WHEN_CHUNK_BYTES_EXCEED: u64 = 256 * 1024;

/// The default for [`Store::set_compaction_threshold`]: the chunk count above which a
/// document is compacted.
pub const DEFAULT_COMPACTION_THRESHOLD: usize = 64;

/// How long a statement waits for another connection's lock before failing with
/// [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Cohort's durable local store: one SQLite connection (WAL, `synchronous=FULL`) holding
/// documents (snapshot + change chunks), their index metadata, full-text search, blobs and
/// settings. Every method is synchronous; every write returns only after its transaction
/// committed.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    compaction_threshold: usize,
}

/// What one compaction did: (chunks removed, bytes before, bytes after).
type Compacted = (u64, u64, u64);

impl Store {
    /// Opens the database at `path` (conventionally `<data dir>/cohort.sqlite3`), creating it
    /// if missing, and migrates it to the newest schema. The parent folder must exist.
    ///
    /// Fails with [`StoreError::NotADatabase`]/[`StoreError::Corrupt`] for a file that is not
    /// a healthy SQLite database, [`StoreError::Foreign`] for another application's database,
    /// [`StoreError::NewerSchema`] for a database from a newer Cohort, and
    /// [`StoreError::ReadOnly`] when the file or folder cannot be written.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let map = |e| StoreError::from_sqlite(e, path);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(map)?;
        // SQLite silently falls back to read-only when the file is not writable.
        if conn.is_readonly(rusqlite::MAIN_DB).map_err(map)? {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        conn.busy_timeout(BUSY_TIMEOUT).map_err(map)?;
        conn.set_prepared_statement_cache_capacity(64);
        fts::register_functions(&conn).map_err(map)?;
        schema::prepare(&mut conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            compaction_threshold: DEFAULT_COMPACTION_THRESHOLD,
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn map(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |e| StoreError::from_sqlite(e, &self.path)
    }

    /// The schema version of the open database (after [`Store::open`], always
    /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema::user_version(&self.conn).map_err(self.map())
    }

    /// Sets how many chunks a document may accumulate before a write compacts it
    /// (default [`DEFAULT_COMPACTION_THRESHOLD`]). A document is also compacted when its
    /// chunks together are larger than its snapshot and than
    /// [`COMPACT_WHEN_CHUNK_BYTES_EXCEED`]. `0` is treated as `1`.
    pub fn set_compaction_threshold(&mut self, chunks: usize) {
        self.compaction_threshold = chunks.max(1);
    }

    /// Applies the whole batch in one transaction and returns after it committed: either
    /// every document write is durable, or (on error) none is.
    ///
    /// Documents whose chunks pass the compaction threshold are compacted in the same
    /// transaction. Compaction is an optimization: if a document's stored changes do not
    /// reproduce its metadata heads, it is left uncompacted (with a warning) and the write
    /// still succeeds.
    pub fn write(&mut self, batch: &WriteBatch) -> Result<WriteOutcome, StoreError> {
        let path = self.path.clone();
        let map = |e| StoreError::from_sqlite(e, &path);
        let threshold = self.compaction_threshold as u64;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let mut outcome = WriteOutcome::default();
        for write in &batch.docs {
            let id = write.meta.id.as_bytes();
            let existed = docs::exists(&tx, id).map_err(map)?;
            if matches!(write.data, DocData::MetaOnly) && !existed {
                return Err(StoreError::MissingDoc { id: write.meta.id });
            }
            docs::upsert_meta(&tx, &write.meta).map_err(map)?;
            let mut appended = false;
            match &write.data {
                DocData::Replace(bytes) => {
                    docs::set_snapshot(&tx, id, bytes).map_err(map)?;
                    chunks::delete_all(&tx, id).map_err(map)?;
                }
                DocData::Append(bytes) if !bytes.is_empty() => {
                    chunks::append(&tx, id, bytes).map_err(map)?;
                    outcome.chunks_appended += 1;
                    appended = true;
                }
                DocData::Append(_) | DocData::MetaOnly => {}
            }
            apply_fts(&tx, id, &write.fts, existed).map_err(map)?;
            if appended {
                let (count, bytes) = chunks::count(&tx, id).map_err(map)?;
                let snapshot = docs::snapshot_len(&tx, id).map_err(map)?;
                if count > threshold || bytes > snapshot.max(COMPACT_WHEN_CHUNK_BYTES_EXCEED) {
                    match compact_doc(&tx, write.meta.id, &path) {
                        Ok(Some(_)) => outcome.compacted.push(write.meta.id),
                        Ok(None) => {}
                        Err(StoreError::Automerge { id, detail }) => {
                            tracing::warn!(%id, %detail, "left document uncompacted");
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            outcome.docs_written += 1;
        }
        for id in &batch.settled {
            inbox::delete(&tx, id.as_bytes()).map_err(map)?;
        }
        for r in &batch.received {
            if docs::exists(&tx, r.id.as_bytes()).map_err(map)? {
                return Err(StoreError::Corrupt {
                    path: path.clone(),
                    detail: format!(
                        "document {} is stored already and cannot be kept as received",
                        r.id
                    ),
                });
            }
            inbox::insert(&tx, r).map_err(map)?;
        }
        tx.commit().map_err(map)?;
        Ok(outcome)
    }

    /// A document kept as received ([`WriteBatch::received`]), or `None`.
    pub fn received(&self, id: DocId) -> Result<Option<Received>, StoreError> {
        inbox::get(&self.conn, id.as_bytes()).map_err(self.map())
    }

    /// The space and heads of a document kept as received, without its bytes.
    pub fn received_heads(&self, id: DocId) -> Result<Option<ReceivedHeads>, StoreError> {
        inbox::heads(&self.conn, id.as_bytes()).map_err(self.map())
    }

    /// The documents kept as received longest: at most `limit`, and no more than
    /// `max_bytes` of their bytes together (but at least one, if any is kept).
    pub fn oldest_received(
        &self,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<Received>, StoreError> {
        Ok(self
            .received_after(0, limit, max_bytes)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Like [`Store::oldest_received`], only those after position `after` in arrival order,
    /// each with its position (to take the next ones after it).
    pub fn received_after(
        &self,
        after: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<(i64, Received)>, StoreError> {
        inbox::oldest(&self.conn, after, limit, max_bytes).map_err(self.map())
    }

    /// How many documents are kept as received, per space (spaces with none left out).
    pub fn received_counts(&self) -> Result<Vec<(SpaceId, u64)>, StoreError> {
        inbox::counts(&self.conn).map_err(self.map())
    }

    /// A document's metadata, snapshot and chunks (oldest first), or `None` if not stored.
    pub fn load(&self, id: DocId) -> Result<Option<StoredDoc>, StoreError> {
        let tx = self.conn.unchecked_transaction().map_err(self.map())?;
        let Some((meta, snapshot)) =
            docs::meta_and_snapshot(&tx, id.as_bytes()).map_err(self.map())?
        else {
            return Ok(None);
        };
        let chunks = chunks::load(&tx, id.as_bytes()).map_err(self.map())?;
        tx.finish().map_err(self.map())?;
        Ok(Some(StoredDoc {
            meta,
            snapshot,
            chunks,
        }))
    }

    /// A document's metadata, or `None` if not stored.
    pub fn meta(&self, id: DocId) -> Result<Option<DocMeta>, StoreError> {
        docs::meta(&self.conn, id.as_bytes()).map_err(self.map())
    }

    /// The metadata of the documents matching `filter`, newest `updated_at` first (ties by
    /// id). Courses are ordered the same way; sorting by title is the caller's choice.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<DocMeta>, StoreError> {
        let mut sql = format!("SELECT {} FROM docs WHERE 1 = 1", docs::META_COLUMNS);
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if !filter.include_deleted {
            sql.push_str(" AND deleted = 0");
        }
        if let Some(kinds) = &filter.kinds {
            push_in(&mut sql, &mut values, "kind", kinds.iter().map(kind_value));
        }
        if let Some(spaces) = &filter.spaces {
            push_in(
                &mut sql,
                &mut values,
                "space",
                spaces.iter().map(space_value),
            );
        }
        if let Some(parent) = &filter.parent {
            values.push(parent.as_bytes().to_vec().into());
            sql.push_str(&format!(" AND parent = ?{}", values.len()));
        }
        if let Some(after) = filter.updated_after {
            values.push(after.0.into());
            sql.push_str(&format!(" AND updated_at > ?{}", values.len()));
        }
        sql.push_str(" ORDER BY updated_at DESC, id");
        if let Some(limit) = filter.limit {
            values.push(i64::try_from(limit).unwrap_or(i64::MAX).into());
            sql.push_str(&format!(" LIMIT ?{}", values.len()));
        }
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.map())?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(values), |r| {
                docs::meta_from_row(r, 0)
            })
            .map_err(self.map())?;
        rows.collect::<Result<_, _>>().map_err(self.map())
    }

    /// Every document of `space`, deleted ones and those kept as received included, with
    /// its heads (in no particular order): what sync compares with a peer, without reading
    /// the rest of each row.
    pub fn space_heads(&self, space: SpaceId) -> Result<Vec<DocHeads>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, heads FROM docs WHERE space = ?1
                 UNION ALL SELECT id, heads FROM inbox WHERE space = ?1",
            )
            .map_err(self.map())?;
        let rows = stmt
            .query_map([space.as_bytes()], docs::id_and_heads)
            .map_err(self.map())?;
        rows.collect::<Result<_, _>>().map_err(self.map())
    }

    /// Documents whose hex id starts with `prefix` (case-insensitive, 1 to 32 hex digits),
    /// deleted ones included, ordered by id: how the CLI resolves short ids. Anything that is
    /// not a hex prefix matches nothing.
    pub fn find_by_prefix(&self, prefix: &str) -> Result<Vec<DocMeta>, StoreError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.is_empty() || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Ok(Vec::new());
        }
        let pad = |c: char| {
            let mut s = prefix.clone();
            s.extend(std::iter::repeat_n(c, 32 - prefix.len()));
            hex::decode(s)
        };
        let (Ok(low), Ok(high)) = (pad('0'), pad('f')) else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM docs WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
                docs::META_COLUMNS
            ))
            .map_err(self.map())?;
        let rows = stmt
            .query_map([low, high], |r| docs::meta_from_row(r, 0))
            .map_err(self.map())?;
        rows.collect::<Result<_, _>>().map_err(self.map())
    }

    /// Full-text search over live (not deleted) documents. Any text is a valid query: each
    /// word must match (the last one as a prefix), FTS5 syntax in `query` has no effect, and
    /// a query without letters or digits returns nothing. Hits are ordered by bm25 with
    /// titles weighted 10x the body.
    pub fn search(&self, query: &str, opts: &SearchOptions) -> Result<Vec<SearchHit>, StoreError> {
        let Some(expr) = fts::match_expression(query) else {
            return Ok(Vec::new());
        };
        if opts.limit == 0 {
            return Ok(Vec::new());
        }
        let tx = self.conn.unchecked_transaction().map_err(self.map())?;
        let top = fts::top(
            &tx,
            &expr,
            opts.spaces.as_deref(),
            opts.kinds.as_deref(),
            opts.limit,
        )
        .map_err(self.map())?;
        let highlighter = match fts::query_terms(query) {
            Some((terms, prefix)) => Highlighter::new(&terms, prefix),
            None => return Ok(Vec::new()),
        };
        let mut hits = Vec::with_capacity(top.len());
        for raw in top {
            let fts::HitRow {
                doc,
                part,
                kind,
                space,
                title,
                body,
            } = fts::hit_details(&tx, raw.rowid).map_err(self.map())?;
            let snippet = highlighter.snippet(&body);
            let corrupt = |what: &str| StoreError::Corrupt {
                path: self.path.clone(),
                detail: format!("invalid {what} in search row {}", raw.rowid),
            };
            hits.push(SearchHit {
                doc: DocId::from_bytes(doc.try_into().map_err(|_| corrupt("document id"))?),
                part,
                kind: kind.parse().map_err(|_| corrupt("kind"))?,
                space: SpaceId::from_bytes(space.try_into().map_err(|_| corrupt("space"))?),
                title,
                snippet,
                rank: raw.rank,
            });
        }
        tx.finish().map_err(self.map())?;
        Ok(hits)
    }

    /// Documents whose full-text rows were marked out of date ([`FtsUpdate::MarkStale`]) and
    /// not rewritten since.
    pub fn stale_fts(&self) -> Result<Vec<DocId>, StoreError> {
        let rows = fts::stale(&self.conn).map_err(self.map())?;
        rows.into_iter()
            .map(|bytes| {
                bytes
                    .try_into()
                    .map(DocId::from_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        path: self.path.clone(),
                        detail: "invalid document id in fts_stale".into(),
                    })
            })
            .collect()
    }

    /// Forgets documents entirely (their rows, changes and search text), in one
    /// transaction; ids not stored are skipped. Returns how many were removed. Only for
    /// documents nobody else holds (a fresh data dir's own profile when it becomes a linked
    /// device): a synced document would come back from its peers.
    pub fn remove_docs(&mut self, ids: &[DocId]) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let map = |e| StoreError::from_sqlite(e, &path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        let mut removed = 0;
        for id in ids {
            let id = id.as_bytes();
            fts::remove(&tx, id, None).map_err(map)?;
            fts::clear_stale(&tx, id).map_err(map)?;
            chunks::delete_all(&tx, id).map_err(map)?;
            removed += docs::delete(&tx, id).map_err(map)?;
        }
        tx.commit().map_err(map)?;
        Ok(removed)
    }

    /// Compacts one document now: folds its chunks into a new snapshot (`save()` of the
    /// loaded document). Fails with [`StoreError::Automerge`], changing nothing, if the
    /// stored changes do not load or do not reproduce the heads in its metadata. A document
    /// without chunks, or not stored, is left as it is.
    pub fn compact(&mut self, id: DocId) -> Result<(), StoreError> {
        let path = self.path.clone();
        let map = |e| StoreError::from_sqlite(e, &path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map)?;
        compact_doc(&tx, id, &path)?;
        tx.commit().map_err(map)
    }

    /// Compacts every document that has chunks, one transaction per document. Documents that
    /// fail to compact are left as they are, counted in [`CompactStats::docs_failed`].
    pub fn compact_all(&mut self) -> Result<CompactStats, StoreError> {
        let path = self.path.clone();
        let map = |e| StoreError::from_sqlite(e, &path);
        let ids: Vec<Vec<u8>> = {
            let mut stmt = self
                .conn
                .prepare("SELECT DISTINCT doc FROM chunks")
                .map_err(map)?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(map)?;
            rows.collect::<Result<_, _>>().map_err(map)?
        };
        let mut stats = CompactStats::default();
        for id in ids {
            let id: [u8; 16] = id.try_into().map_err(|_| StoreError::Corrupt {
                path: path.clone(),
                detail: "invalid document id in chunks".into(),
            })?;
            let id = DocId::from_bytes(id);
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map)?;
            match compact_doc(&tx, id, &path) {
                Ok(Some((chunks, before, after))) => {
                    tx.commit().map_err(map)?;
                    stats.docs_compacted += 1;
                    stats.chunks_removed += chunks as usize;
                    stats.bytes_before += before;
                    stats.bytes_after += after;
                }
                Ok(None) => {}
                Err(StoreError::Automerge { id, detail }) => {
                    tracing::warn!(%id, %detail, "left document uncompacted");
                    stats.docs_failed += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(stats)
    }

    /// Gives free pages back to the file system and merges the search index's segments:
    /// `VACUUM` plus FTS5 `optimize`. Slow on big databases; for maintenance, after
    /// [`Store::compact_all`].
    pub fn vacuum(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(
                "INSERT INTO fts(fts) VALUES ('optimize');
                 VACUUM;
                 PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .map_err(self.map())
    }

    /// Stores a blob and returns its BLAKE3 content address. Storing the same bytes again is
    /// a no-op returning the same hash.
    pub fn put_blob(&mut self, data: &[u8]) -> Result<BlobHash, StoreError> {
        blobs::put(&self.conn, data).map_err(self.map())
    }

    /// The blob with this hash, or `None` if not stored.
    pub fn get_blob(&self, hash: &BlobHash) -> Result<Option<Vec<u8>>, StoreError> {
        blobs::get(&self.conn, hash).map_err(self.map())
    }

    /// A setting, or `None` if never set.
    pub fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        kv::get(&self.conn, key).map_err(self.map())
    }

    /// Sets a setting, durably.
    pub fn kv_set(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        kv::set(&self.conn, key, value).map_err(self.map())
    }

    /// Runs SQLite's `PRAGMA integrity_check` (which includes the search index) and fails with
    /// [`StoreError::Corrupt`] listing the problems unless it reports `ok`.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.map())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(self.map())?;
        let problems: Vec<String> = rows.collect::<Result<_, _>>().map_err(self.map())?;
        if problems.len() == 1 && problems[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                path: self.path.clone(),
                detail: problems.join("; "),
            })
        }
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM docs),
                        (SELECT count(*) FROM chunks),
                        (SELECT coalesce(sum(length(snapshot)), 0) FROM docs),
                        (SELECT coalesce(sum(length(data)), 0) FROM chunks),
                        (SELECT count(*) FROM fts_text),
                        (SELECT count(*) FROM blobs),
                        (SELECT page_count * page_size FROM pragma_page_count, pragma_page_size)",
                [],
                |r| {
                    Ok(StoreStats {
                        docs: get_u64(r, 0)?,
                        chunks: get_u64(r, 1)?,
                        snapshot_bytes: get_u64(r, 2)?,
                        chunk_bytes: get_u64(r, 3)?,
                        fts_rows: get_u64(r, 4)?,
                        blobs: get_u64(r, 5)?,
                        file_bytes: get_u64(r, 6)?,
                    })
                },
            )
            .map_err(self.map())
    }
}

fn kind_value(kind: &DocKind) -> rusqlite::types::Value {
    kind.as_str().to_owned().into()
}

fn space_value(space: &SpaceId) -> rusqlite::types::Value {
    space.as_bytes().to_vec().into()
}

fn push_in(
    sql: &mut String,
    values: &mut Vec<rusqlite::types::Value>,
    column: &str,
    items: impl Iterator<Item = rusqlite::types::Value>,
) {
    let mut params = Vec::new();
    for item in items {
        values.push(item);
        params.push(format!("?{}", values.len()));
    }
    sql.push_str(&format!(" AND {column} IN ({})", params.join(", ")));
}

/// Applies `update` to the rows of document `id`; `existed` says whether the document was
/// stored before this write (a new one has no rows to remove).
fn apply_fts(
    conn: &Connection,
    id: &[u8],
    update: &FtsUpdate,
    existed: bool,
) -> rusqlite::Result<()> {
    match update {
        FtsUpdate::Keep => {}
        FtsUpdate::Replace(entries) => {
            if existed {
                fts::remove(conn, id, None)?;
                fts::clear_stale(conn, id)?;
            }
            // After removing every row, a part needs removing only if it repeats.
            let mut parts = std::collections::HashSet::new();
            for entry in entries {
                if !parts.insert(entry.part.as_str()) {
                    fts::remove(conn, id, Some(&entry.part))?;
                }
                fts::insert(conn, id, entry)?;
            }
        }
        FtsUpdate::Upsert(entries) => {
            for entry in entries {
                fts::remove(conn, id, Some(&entry.part))?;
                fts::insert(conn, id, entry)?;
            }
        }
        FtsUpdate::Remove(parts) => {
            for part in parts {
                fts::remove(conn, id, Some(part))?;
            }
        }
        FtsUpdate::RemoveAll => {
            fts::remove(conn, id, None)?;
            fts::clear_stale(conn, id)?;
        }
        FtsUpdate::MarkStale => fts::mark_stale(conn, id)?,
    }
    Ok(())
}

/// Folds a document's chunks into its snapshot inside the caller's transaction. `Ok(None)`
/// when there was nothing to do.
fn compact_doc(conn: &Connection, id: DocId, path: &Path) -> Result<Option<Compacted>, StoreError> {
    let map = |e| StoreError::from_sqlite(e, path);
    let key = id.as_bytes();
    let Some((meta, snapshot)) = docs::meta_and_snapshot(conn, key).map_err(map)? else {
        return Ok(None);
    };
    let chunks = chunks::load(conn, key).map_err(map)?;
    if chunks.is_empty() {
        return Ok(None);
    }
    let fail = |detail: String| StoreError::Automerge { id, detail };
    let mut doc = if snapshot.is_empty() {
        AutoCommit::new()
    } else {
        AutoCommit::load(&snapshot).map_err(|e| fail(format!("snapshot does not load: {e}")))?
    };
    for (i, chunk) in chunks.iter().enumerate() {
        doc.load_incremental(chunk)
            .map_err(|e| fail(format!("chunk {} does not load: {e}", i + 1)))?;
    }
    let missing = doc.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(fail(format!(
            "{} changes are missing their dependencies",
            missing.len()
        )));
    }
    let mut heads: Vec<[u8; 32]> = doc.get_heads().into_iter().map(|h| h.0).collect();
    let mut expected = meta.heads.clone();
    heads.sort_unstable();
    expected.sort_unstable();
    if heads != expected {
        return Err(fail(
            "the stored changes do not reproduce the heads in its metadata".into(),
        ));
    }
    let saved = doc.save();
    let before = snapshot.len() as u64 + chunks.iter().map(|c| c.len() as u64).sum::<u64>();
    docs::set_snapshot(conn, key, &saved).map_err(map)?;
    let removed = chunks::delete_all(conn, key).map_err(map)? as u64;
    tracing::debug!(%id, removed, before, after = saved.len(), "compacted document");
    Ok(Some((removed, before, saved.len() as u64)))
}
