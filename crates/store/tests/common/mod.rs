//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::error::Error;
use std::path::PathBuf;

use cohort_model::{DocId, DocKind, SpaceId, Timestamp};
use cohort_store::{DocData, DocMeta, DocWrite, FtsEntry, FtsUpdate, Store, WriteBatch};

pub type TestResult = Result<(), Box<dyn Error>>;

/// A temp data dir with an open store; the dir lives as long as this value.
pub struct TempStore {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl TempStore {
    pub fn new() -> Result<TempStore, Box<dyn Error>> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(&dir.path().join("cohort.sqlite3"))?;
        Ok(TempStore { dir, store })
    }
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("cohort.sqlite3")
    }
    /// Closes and reopens the store.
    pub fn reopen(self) -> Result<TempStore, Box<dyn Error>> {
        let TempStore { dir, store } = self;
        drop(store);
        let store = Store::open(&dir.path().join("cohort.sqlite3"))?;
        Ok(TempStore { dir, store })
    }
}

pub fn doc_id(n: u8) -> DocId {
    DocId::from_bytes([n; 16])
}

pub fn space(n: u8) -> SpaceId {
    SpaceId::from_bytes([n; 16])
}

pub fn meta(id: DocId, space: SpaceId, kind: DocKind, title: &str, updated: i64) -> DocMeta {
    DocMeta {
        id,
        space,
        kind,
        title: title.into(),
        parent: None,
        created_at: Timestamp(1),
        updated_at: Timestamp(updated),
        deleted: false,
        summary: format!("{{\"title\":{title:?}}}"),
        heads: Vec::new(),
    }
}

pub fn heads_of(doc: &mut automerge::AutoCommit) -> Vec<[u8; 32]> {
    doc.get_heads().into_iter().map(|h| h.0).collect()
}

pub fn entry(part: &str, title: &str, body: &str) -> FtsEntry {
    FtsEntry {
        part: part.into(),
        title: title.into(),
        body: body.into(),
    }
}

pub fn one(meta: DocMeta, data: DocData, fts: FtsUpdate) -> WriteBatch {
    WriteBatch {
        docs: vec![DocWrite { meta, data, fts }],
        ..WriteBatch::default()
    }
}
