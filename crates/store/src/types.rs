//! The values that cross the store's API.

use std::fmt;
use std::str::FromStr;

use cohort_model::{DocId, DocKind, SpaceId, Timestamp};

/// The index metadata of one document, written by the core beside the document bytes and
/// used for list views without loading any Automerge document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMeta {
    /// The document.
    pub id: DocId,
    /// The space it belongs to.
    pub space: SpaceId,
    /// Its kind.
    pub kind: DocKind,
    /// Its title, for lists (empty when the kind has none).
    pub title: String,
    /// The containing document (a lesson's course, a thread's lesson), if any.
    pub parent: Option<DocId>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed; lists are ordered by this, newest first.
    pub updated_at: Timestamp,
    /// Whether it is deleted (tombstoned). Deleted documents are left out of lists unless
    /// asked for and never appear in search results.
    pub deleted: bool,
    /// A small JSON object the core uses for list views (post count, thread kind...). Opaque
    /// to the store.
    pub summary: String,
    /// The document's Automerge heads after this write. Compaction checks that the stored
    /// changes reproduce exactly these heads.
    pub heads: Vec<[u8; 32]>,
}

/// A document as stored: its metadata, its last compacted snapshot and the incremental change
/// chunks appended since, in the order they were written. Load it with
/// `AutoCommit::load(&snapshot)` followed by `load_incremental(chunk)` for each chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDoc {
    /// The metadata.
    pub meta: DocMeta,
    /// The snapshot (an Automerge `save()`); empty if the document was only ever appended to
    /// and not yet compacted.
    pub snapshot: Vec<u8>,
    /// The change chunks appended since the snapshot, oldest first.
    pub chunks: Vec<Vec<u8>>,
}

/// A document and its heads (each a 32-byte change hash).
pub type DocHeads = (DocId, Vec<[u8; 32]>);

/// The space of a document kept as received, and the heads its sender named.
pub type ReceivedHeads = (SpaceId, Vec<[u8; 32]>);

/// Writes to many documents, committed in one transaction: all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    /// The document writes, applied in order.
    pub docs: Vec<DocWrite>,
    /// Documents a peer sent whole, to keep as sent until they are loaded and indexed
    /// ([`crate::Store::received`]). Each id must be neither stored nor kept already.
    pub received: Vec<Received>,
    /// Kept documents that are done with (loaded and written as `docs`, or refused):
    /// removed from the kept ones.
    pub settled: Vec<DocId>,
}

/// A document a peer sent whole, kept as it came: not listed, searched or loadable until
/// the core has loaded, checked and indexed it (then written as an ordinary document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The document.
    pub id: DocId,
    /// Its space.
    pub space: SpaceId,
    /// The heads the peer named for the bytes (not yet checked).
    pub heads: Vec<[u8; 32]>,
    /// A saved document, optionally followed by change chunks, as sent.
    pub bytes: Vec<u8>,
}

/// One document's part of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocWrite {
    /// The document's new metadata (replaces the stored metadata entirely).
    pub meta: DocMeta,
    /// What happens to the document bytes.
    pub data: DocData,
    /// What happens to the document's full-text rows.
    pub fts: FtsUpdate,
}

/// What a [`DocWrite`] does to the document bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocData {
    /// A full `save()` (new document, import): becomes the snapshot and drops all chunks.
    Replace(Vec<u8>),
    /// Incremental changes (`save_incremental`/`save_after`): appended as one chunk. An empty
    /// chunk is ignored. May trigger compaction (see [`crate::Store::set_compaction_threshold`]).
    Append(Vec<u8>),
    /// Only the metadata changes; the document must already be stored.
    MetaOnly,
}

/// What a [`DocWrite`] does to the document's full-text rows. Each row is one *part* of the
/// document: `""` for the document body, or an item id (a post).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FtsUpdate {
    /// Leave the rows as they are.
    Keep,
    /// Delete all of this document's rows, then insert these.
    Replace(Vec<FtsEntry>),
    /// Insert these rows, replacing rows with the same part.
    Upsert(Vec<FtsEntry>),
    /// Delete the rows of these parts.
    Remove(Vec<String>),
    /// Delete all of this document's rows.
    RemoveAll,
    /// Keep the rows but record that they are out of date ([`crate::Store::stale_fts`]);
    /// a later `Replace` or `RemoveAll` clears the mark.
    MarkStale,
}

/// One full-text row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtsEntry {
    /// Which part of the document: `""` for the body, or an item (post) id.
    pub part: String,
    /// The title to match (weighted above the body).
    pub title: String,
    /// The text to match (Markdown is fine).
    pub body: String,
}

/// What [`crate::Store::write`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// How many document writes were applied.
    pub docs_written: usize,
    /// How many change chunks were appended.
    pub chunks_appended: usize,
    /// The documents compacted automatically during this write.
    pub compacted: Vec<DocId>,
}

/// Which documents [`crate::Store::list`] returns. The default lists every live document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only these kinds (`None`: all kinds).
    pub kinds: Option<Vec<DocKind>>,
    /// Only these spaces (`None`: all spaces).
    pub spaces: Option<Vec<SpaceId>>,
    /// Only children of this document.
    pub parent: Option<DocId>,
    /// Include deleted documents.
    pub include_deleted: bool,
    /// Only documents changed after this time.
    pub updated_after: Option<Timestamp>,
    /// At most this many (`None`: no limit).
    pub limit: Option<usize>,
}

/// Options for [`crate::Store::search`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// Only these spaces (`None`: all spaces).
    pub spaces: Option<Vec<SpaceId>>,
    /// Only these kinds (`None`: all kinds).
    pub kinds: Option<Vec<DocKind>>,
    /// At most this many hits.
    pub limit: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            spaces: None,
            kinds: None,
            limit: 50,
        }
    }
}

/// One search result: a matching part of a live document.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The document.
    pub doc: DocId,
    /// The matching part (`""` for the body, or a post id).
    pub part: String,
    /// The document's kind.
    pub kind: DocKind,
    /// The document's space.
    pub space: SpaceId,
    /// The document's title (from its metadata).
    pub title: String,
    /// An excerpt around the matches, with matched words wrapped in
    /// [`SNIPPET_START`](crate::SNIPPET_START) / [`SNIPPET_END`](crate::SNIPPET_END).
    pub snippet: String,
    /// The bm25 rank: lower is better (FTS5 convention); hits are sorted by it.
    pub rank: f64,
}

/// What [`crate::Store::compact_all`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactStats {
    /// Documents that had chunks and were compacted.
    pub docs_compacted: usize,
    /// Chunks folded into snapshots.
    pub chunks_removed: usize,
    /// Total stored bytes (snapshots + chunks) of those documents before.
    pub bytes_before: u64,
    /// Their snapshot bytes after.
    pub bytes_after: u64,
    /// Documents left uncompacted because their changes did not load or did not reproduce
    /// their heads (logged as warnings).
    pub docs_failed: usize,
}

/// Sizes and counts, for diagnostics and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Stored documents (deleted included).
    pub docs: u64,
    /// Change chunks not yet compacted.
    pub chunks: u64,
    /// Bytes of all snapshots.
    pub snapshot_bytes: u64,
    /// Bytes of all chunks.
    pub chunk_bytes: u64,
    /// Full-text rows.
    pub fts_rows: u64,
    /// Blobs.
    pub blobs: u64,
    /// The main database file's size (`page_count * page_size`, WAL not included).
    pub file_bytes: u64,
}

/// The content address of a blob: its BLAKE3 hash. Shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// The hash of `data`.
    pub fn of(data: &[u8]) -> BlobHash {
        BlobHash(*blake3::hash(data).as_bytes())
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

/// Text that is not a 64-hex-digit blob hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob hash {0:?}: expected 64 hex digits")]
pub struct ParseBlobHashError(pub String);

impl FromStr for BlobHash {
    type Err = ParseBlobHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        match hex::decode_to_slice(s, &mut bytes) {
            Ok(()) if s.len() == 64 => Ok(BlobHash(bytes)),
            _ => Err(ParseBlobHashError(s.chars().take(80).collect())),
        }
    }
}
