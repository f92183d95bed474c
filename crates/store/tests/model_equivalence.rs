//! Any sequence of writes, after a restart, reads back exactly like a simple in-memory model.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use cohort_model::{DocKind, Timestamp};
use cohort_store::{
    DocData, DocWrite, FtsEntry, FtsUpdate, ListFilter, SearchOptions, StoredDoc, WriteBatch,
};
use common::{TempStore, doc_id, entry, meta, space};
use proptest::prelude::*;

const WORDS: [&str; 5] = ["alpha", "bravo", "charlie", "delta", "echo"];
const PARTS: [&str; 3] = ["", "p1", "p2"];

fn arb_entry() -> impl Strategy<Value = FtsEntry> {
    (
        0..PARTS.len(),
        0..WORDS.len(),
        proptest::collection::vec(0..WORDS.len(), 0..3),
    )
        .prop_map(|(p, t, b)| {
            let body: Vec<&str> = b.into_iter().map(|i| WORDS[i]).collect();
            entry(PARTS[p], WORDS[t], &body.join(" "))
        })
}

fn arb_fts() -> impl Strategy<Value = FtsUpdate> {
    prop_oneof![
        Just(FtsUpdate::Keep),
        proptest::collection::vec(arb_entry(), 0..3).prop_map(FtsUpdate::Replace),
        proptest::collection::vec(arb_entry(), 0..3).prop_map(FtsUpdate::Upsert),
        proptest::collection::vec((0..PARTS.len()).prop_map(|i| PARTS[i].to_string()), 0..2)
            .prop_map(FtsUpdate::Remove),
        Just(FtsUpdate::RemoveAll),
        Just(FtsUpdate::MarkStale),
    ]
}

fn arb_write() -> impl Strategy<Value = DocWrite> {
    let data = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(DocData::Replace),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(DocData::Append),
        Just(DocData::MetaOnly),
    ];
    (
        0u8..4,
        0u8..2,
        0usize..3,
        0i64..5,
        any::<bool>(),
        data,
        arb_fts(),
    )
        .prop_map(|(n, sp, kind, updated, deleted, data, fts)| {
            let kind = [DocKind::Note, DocKind::Thread, DocKind::Lesson][kind];
            let mut m = meta(doc_id(n + 1), space(sp), kind, WORDS[n as usize], updated);
            m.deleted = deleted;
            m.heads = vec![[n; 32]];
            m.created_at = Timestamp(-updated);
            DocWrite { meta: m, data, fts }
        })
}

#[derive(Default)]
struct Model {
    docs: BTreeMap<u8, StoredDoc>,
    fts: BTreeMap<u8, BTreeMap<String, FtsEntry>>,
    stale: BTreeSet<u8>,
}

impl Model {
    /// Applies one batch; false if the store must refuse it (MetaOnly on a missing doc).
    fn apply(&mut self, batch: &WriteBatch) -> bool {
        let mut next = Model {
            docs: self.docs.clone(),
            fts: self.fts.clone(),
            stale: self.stale.clone(),
        };
        for w in &batch.docs {
            let key = w.meta.id.as_bytes()[0];
            let doc = match (next.docs.remove(&key), &w.data) {
                (None, DocData::MetaOnly) => return false,
                (old, _) => old.unwrap_or(StoredDoc {
                    meta: w.meta.clone(),
                    snapshot: vec![],
                    chunks: vec![],
                }),
            };
            let mut doc = StoredDoc {
                meta: w.meta.clone(),
                ..doc
            };
            match &w.data {
                DocData::Replace(b) => {
                    doc.snapshot = b.clone();
                    doc.chunks.clear();
                }
                DocData::Append(b) if !b.is_empty() => doc.chunks.push(b.clone()),
                _ => {}
            }
            next.docs.insert(key, doc);
            let rows = next.fts.entry(key).or_default();
            match &w.fts {
                FtsUpdate::Keep => {}
                FtsUpdate::Replace(es) => {
                    next.stale.remove(&key);
                    rows.clear();
                    rows.extend(es.iter().map(|e| (e.part.clone(), e.clone())));
                }
                FtsUpdate::Upsert(es) => {
                    rows.extend(es.iter().map(|e| (e.part.clone(), e.clone())))
                }
                FtsUpdate::Remove(ps) => ps.iter().for_each(|p| {
                    rows.remove(p);
                }),
                FtsUpdate::RemoveAll => {
                    next.stale.remove(&key);
                    rows.clear();
                }
                FtsUpdate::MarkStale => {
                    next.stale.insert(key);
                }
            }
        }
        *self = next;
        true
    }

    fn search(&self, word: &str) -> BTreeSet<(u8, String)> {
        let mut out = BTreeSet::new();
        for (doc, rows) in &self.fts {
            if self.docs.get(doc).is_none_or(|d| d.meta.deleted) {
                continue;
            }
            for (part, e) in rows {
                if e.title == word || e.body.split(' ').any(|w| w == word) {
                    out.insert((*doc, part.clone()));
                }
            }
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_writes_then_restart_match_the_model(
        batches in proptest::collection::vec(proptest::collection::vec(arb_write(), 1..4), 1..12)
    ) {
        let run = || -> Result<(), Box<dyn std::error::Error>> {
            let mut t = TempStore::new()?;
            let mut model = Model::default();
            for batch in batches {
                let batch = WriteBatch { docs: batch, ..WriteBatch::default() };
                let accepted = model.apply(&batch);
                let result = t.store.write(&batch);
                assert_eq!(result.is_ok(), accepted, "store and model disagree on {batch:?}: {result:?}");
            }
            let t = t.reopen()?;
            t.store.integrity_check()?;
            let listed = t.store.list(&ListFilter { include_deleted: true, ..Default::default() })?;
            let mut expected: Vec<_> = model.docs.values().map(|d| d.meta.clone()).collect();
            expected.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
            assert_eq!(listed, expected, "list after restart");
            for (key, doc) in &model.docs {
                let stored = t.store.load(doc_id(*key))?.ok_or("document lost")?;
                // Garbage chunks never compact, so snapshot + chunks stay exactly as written.
                assert_eq!(&stored, doc, "load after restart");
            }
            let stale: BTreeSet<u8> = t.store.stale_fts()?.iter().map(|d| d.as_bytes()[0]).collect();
            assert_eq!(stale, model.stale, "stale marks after restart");
            for word in WORDS {
                let got: BTreeSet<(u8, String)> = t.store
                    .search(word, &SearchOptions { limit: 100, ..Default::default() })?
                    .into_iter()
                    .map(|h| (h.doc.as_bytes()[0], h.part))
                    .collect();
                assert_eq!(got, model.search(word), "search {word}");
            }
            Ok(())
        };
        if let Err(e) = run() {
            return Err(TestCaseError::fail(e.to_string()));
        }
    }
}
