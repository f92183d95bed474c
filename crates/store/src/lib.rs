//! Cohort's durable local store: one SQLite database (`<data dir>/cohort.sqlite3`, WAL,
//! `synchronous=FULL`) behind a synchronous API.
//!
//! # Data model
//! - **Documents.** The core keeps Automerge documents in memory, edits them, and hands the
//!   store bytes plus index metadata ([`DocMeta`]). Each document is stored as a compacted
//!   *snapshot* (a `save()`) followed by *chunks* of incremental changes appended since.
//!   When a document has more than [`DEFAULT_COMPACTION_THRESHOLD`] chunks (see
//!   [`Store::set_compaction_threshold`]) or its chunks outweigh its snapshot, the write that
//!   appended the chunk also compacts it (load, `save()`, check the heads). The store reads
//!   document content only to compact.
//! - **Writes** come in a [`WriteBatch`], applied in one transaction; [`Store::write`]
//!   returns only after the commit, so an acknowledged edit is on disk.
//! - **Lists** ([`Store::list`]) read only metadata, newest first.
//! - **Search** ([`Store::search`]) uses an FTS5 index over [`FtsEntry`] rows (one per
//!   document *part*: the body, or a post). Any user text is a safe query. The index keeps
//!   no plain copy of the text: the text is stored once, deflate-compressed, and inflated
//!   only to make snippets of the hits.
//! - **Blobs** are content-addressed by BLAKE3 ([`BlobHash`]); **settings** live in a small
//!   key-value table.
//! - **On-disk size** (measured with `examples/store_bench.rs` and `examples/fts_size.rs` on
//!   generated Markdown-ish English, 15,000 threads / 97,562 posts, after `vacuum`): the file
//!   is 3.66x the sum of the documents' `save()` sizes: snapshots 1.18x (16 KiB pages),
//!   compressed search text 1.16x, FTS5 index 1.17x. A contentless FTS5 table would be about
//!   2.3x but could not make snippets; one with its own plain copy of the text about 3.9x.
//! - **Schema** migrations are append-only and tracked in `PRAGMA user_version`; the file
//!   carries [`APPLICATION_ID`] so that another application's database is refused.
//!
//! # Example
//! ```
//! use cohort_model::{DocId, DocKind, SpaceId, Timestamp};
//! use cohort_store::{
//!     DocData, DocMeta, DocWrite, FtsEntry, FtsUpdate, SearchOptions, Store, WriteBatch,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let mut store = Store::open(&dir.path().join("cohort.sqlite3"))?;
//!
//! let mut doc = automerge::AutoCommit::new();
//! let id = DocId::from_bytes([1; 16]);
//! let meta = DocMeta {
//!     id,
//!     space: SpaceId::from_bytes([2; 16]),
//!     kind: DocKind::Note,
//!     title: "Photosynthesis".into(),
//!     parent: None,
//!     created_at: Timestamp(1_700_000_000_000),
//!     updated_at: Timestamp(1_700_000_000_000),
//!     deleted: false,
//!     summary: "{}".into(),
//!     heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
//! };
//! store.write(&WriteBatch {
//!     docs: vec![DocWrite {
//!         meta,
//!         data: DocData::Replace(doc.save()),
//!         fts: FtsUpdate::Replace(vec![FtsEntry {
//!             part: String::new(),
//!             title: "Photosynthesis".into(),
//!             body: "Plants turn light into sugar with chlorophyll.".into(),
//!         }]),
//!     }],
//!     ..WriteBatch::default()
//! })?;
//!
//! let hits = store.search("chloro", &SearchOptions::default())?;
//! assert_eq!(hits.len(), 1);
//! assert_eq!(hits[0].doc, id);
//! assert!(store.load(id)?.is_some());
//! # Ok(())
//! # }
//! ```

mod error;
mod schema;
mod snippet;
mod store;
mod table;
mod types;

pub use error::StoreError;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::{COMPACT_WHEN_CHUNK_BYTES_EXCEED, DEFAULT_COMPACTION_THRESHOLD, Store};
pub use table::fts::{SNIPPET_END, SNIPPET_START};
pub use types::{
    BlobHash, CompactStats, DocData, DocHeads, DocMeta, DocWrite, FtsEntry, FtsUpdate, ListFilter,
    ParseBlobHashError, Received, ReceivedHeads, SearchHit, SearchOptions, StoreStats, StoredDoc,
    WriteBatch, WriteOutcome,
};
