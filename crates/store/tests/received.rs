//! Documents kept as a peer sent them ([`WriteBatch::received`]) until the core has loaded
//! and indexed them: counted in sync's view of a space, nowhere else, and durable.

mod common;

use cohort_model::DocKind;
use cohort_store::{DocData, DocWrite, FtsUpdate, ListFilter, Received, StoreError, WriteBatch};
use common::*;

fn received(n: u8, space_n: u8, len: usize) -> Received {
    Received {
        id: doc_id(n),
        space: space(space_n),
        heads: vec![[n; 32], [n.wrapping_add(1); 32]],
        bytes: vec![n; len],
    }
}

fn keep(rs: Vec<Received>) -> WriteBatch {
    WriteBatch {
        received: rs,
        ..WriteBatch::default()
    }
}

#[test]
fn kept_documents_are_in_the_space_heads_only_and_survive_a_reopen() -> TestResult {
    let mut t = TempStore::new()?;
    let mut stored = meta(doc_id(1), space(1), DocKind::Note, "stored", 1);
    stored.heads = vec![[9; 32]];
    t.store
        .write(&one(stored, DocData::Replace(vec![1]), FtsUpdate::Keep))?;
    t.store
        .write(&keep(vec![received(2, 1, 10), received(3, 2, 10)]))?;

    let mut heads = t.store.space_heads(space(1))?;
    heads.sort();
    assert_eq!(
        heads,
        vec![
            (doc_id(1), vec![[9; 32]]),
            (doc_id(2), vec![[2; 32], [3; 32]])
        ]
    );
    // Not a document yet: not listed, not loadable.
    assert_eq!(t.store.list(&ListFilter::default())?.len(), 1);
    assert!(t.store.meta(doc_id(2))?.is_none());
    assert!(t.store.load(doc_id(2))?.is_none());

    let mut t = t.reopen()?;
    assert_eq!(t.store.received(doc_id(2))?, Some(received(2, 1, 10)));
    assert_eq!(
        t.store.received_heads(doc_id(3))?,
        Some((space(2), vec![[3; 32], [4; 32]]))
    );
    let mut counts = t.store.received_counts()?;
    counts.sort();
    assert_eq!(counts, vec![(space(1), 1), (space(2), 1)]);

    // Settled: written as a document and no longer kept, in one transaction.
    let mut m = meta(doc_id(2), space(1), DocKind::Note, "arrived", 2);
    m.heads = vec![[2; 32], [3; 32]];
    t.store.write(&WriteBatch {
        docs: vec![DocWrite {
            meta: m,
            data: DocData::Replace(vec![2; 10]),
            fts: FtsUpdate::Keep,
        }],
        settled: vec![doc_id(2), doc_id(3)],
        ..WriteBatch::default()
    })?;
    assert!(t.store.received(doc_id(2))?.is_none());
    assert!(t.store.received(doc_id(3))?.is_none());
    assert!(t.store.received_counts()?.is_empty());
    assert_eq!(t.store.space_heads(space(2))?, vec![]);
    assert_eq!(t.store.list(&ListFilter::default())?.len(), 2);
    Ok(())
}

#[test]
fn the_oldest_come_first_within_a_byte_budget() -> TestResult {
    let mut t = TempStore::new()?;
    t.store
        .write(&keep(vec![received(5, 1, 100), received(2, 1, 100)]))?;
    t.store.write(&keep(vec![received(9, 1, 1000)]))?;
    let ids = |rs: Vec<Received>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(t.store.oldest_received(10, 10_000)?),
        vec![doc_id(5), doc_id(2), doc_id(9)]
    );
    assert_eq!(
        ids(t.store.oldest_received(2, 10_000)?),
        vec![doc_id(5), doc_id(2)]
    );
    assert_eq!(
        ids(t.store.oldest_received(10, 250)?),
        vec![doc_id(5), doc_id(2)]
    );
    // The next ones after a position, while those before it are still being prepared.
    let all = t.store.received_after(0, 10, 10_000)?;
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "in arrival order");
    let after_second = t.store.received_after(all[1].0, 10, 10_000)?;
    assert_eq!(after_second.len(), 1);
    assert_eq!(after_second[0].1.id, doc_id(9));
    assert!(t.store.received_after(all[2].0, 10, 10_000)?.is_empty());
    // One that alone passes the budget still comes.
    t.store.write(&WriteBatch {
        settled: vec![doc_id(5), doc_id(2)],
        ..WriteBatch::default()
    })?;
    assert_eq!(ids(t.store.oldest_received(10, 10)?), vec![doc_id(9)]);
    Ok(())
}

#[test]
fn a_document_is_never_both_stored_and_kept() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.write(&one(
        meta(doc_id(1), space(1), DocKind::Note, "stored", 1),
        DocData::Replace(vec![1]),
        FtsUpdate::Keep,
    ))?;
    let err = t
        .store
        .write(&keep(vec![received(4, 1, 3), received(1, 1, 3)]))
        .err();
    assert!(matches!(err, Some(StoreError::Corrupt { .. })), "{err:?}");
    // Nothing of the batch was kept.
    assert!(t.store.received(doc_id(4))?.is_none());
    // Kept twice: refused too.
    t.store.write(&keep(vec![received(4, 1, 3)]))?;
    assert!(t.store.write(&keep(vec![received(4, 1, 3)])).is_err());
    Ok(())
}
