//! A document written to the store comes back byte for byte after the app restarts.

mod common;

use cohort_model::{DocKind, Timestamp};
use cohort_store::{DocData, DocWrite, FtsUpdate, ListFilter, StoreError, WriteBatch};
use common::{TempStore, TestResult, doc_id, entry, meta, one, space};
use rstest::rstest;

#[test]
fn reopening_returns_the_same_snapshot_chunks_and_metadata() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.set_compaction_threshold(1000);
    let mut m = meta(doc_id(1), space(1), DocKind::Lesson, "Cells", 10);
    m.parent = Some(doc_id(9));
    m.heads = vec![[7; 32], [8; 32]];
    m.summary = r#"{"posts":3}"#.into();
    // A big snapshot, so small chunks never outweigh it and nothing is compacted.
    let snapshot = vec![42u8; 10_000];
    t.store.write(&one(
        m.clone(),
        DocData::Replace(snapshot.clone()),
        FtsUpdate::Keep,
    ))?;
    t.store.write(&one(
        m.clone(),
        DocData::Append(vec![1, 2, 3]),
        FtsUpdate::Keep,
    ))?;
    t.store.write(&one(
        m.clone(),
        DocData::Append(vec![4, 5]),
        FtsUpdate::Keep,
    ))?;

    let before = t.store.load(doc_id(1))?;
    let t = t.reopen()?;
    let after = t
        .store
        .load(doc_id(1))?
        .ok_or("document vanished on reopen")?;
    assert_eq!(
        Some(&after),
        before.as_ref(),
        "reopen must not change anything"
    );
    assert_eq!(after.meta, m, "metadata must round-trip exactly");
    assert_eq!(after.snapshot, snapshot);
    assert_eq!(
        after.chunks,
        vec![vec![1, 2, 3], vec![4, 5]],
        "chunks accumulate in order"
    );
    assert_eq!(t.store.meta(doc_id(1))?, Some(m));
    Ok(())
}

#[test]
fn replace_drops_the_chunks_appended_before() -> TestResult {
    let mut t = TempStore::new()?;
    let m = meta(doc_id(1), space(1), DocKind::Note, "n", 1);
    t.store.write(&one(
        m.clone(),
        DocData::Replace(vec![9; 5000]),
        FtsUpdate::Keep,
    ))?;
    t.store
        .write(&one(m.clone(), DocData::Append(vec![1]), FtsUpdate::Keep))?;
    t.store.write(&one(
        m.clone(),
        DocData::Replace(vec![3; 4000]),
        FtsUpdate::Keep,
    ))?;
    let doc = t.store.load(doc_id(1))?.ok_or("missing")?;
    assert!(
        doc.chunks.is_empty(),
        "a full save supersedes earlier chunks"
    );
    assert_eq!(doc.snapshot, vec![3; 4000]);
    Ok(())
}

#[test]
fn meta_only_for_an_unknown_document_is_refused_and_nothing_is_written() -> TestResult {
    let mut t = TempStore::new()?;
    let batch = WriteBatch {
        docs: vec![
            DocWrite {
                meta: meta(doc_id(1), space(1), DocKind::Note, "a", 1),
                data: DocData::Replace(vec![1]),
                fts: FtsUpdate::Keep,
            },
            DocWrite {
                meta: meta(doc_id(2), space(1), DocKind::Note, "b", 1),
                data: DocData::MetaOnly,
                fts: FtsUpdate::Keep,
            },
        ],
        ..WriteBatch::default()
    };
    let err = t
        .store
        .write(&batch)
        .err()
        .ok_or("MetaOnly on a missing doc must fail")?;
    assert!(matches!(err, StoreError::MissingDoc { .. }), "got {err:?}");
    assert_eq!(err.code(), "store_missing_doc");
    assert_eq!(
        t.store.load(doc_id(1))?,
        None,
        "the batch is all or nothing"
    );
    Ok(())
}

fn seeded() -> Result<TempStore, Box<dyn std::error::Error>> {
    let mut t = TempStore::new()?;
    let mut docs = Vec::new();
    for (n, kind, sp, updated, deleted) in [
        (1, DocKind::Course, 1, 50, false),
        (2, DocKind::Lesson, 1, 40, false),
        (3, DocKind::Lesson, 2, 30, false),
        (4, DocKind::Thread, 2, 20, false),
        (5, DocKind::Thread, 1, 10, true),
    ] {
        let mut m = meta(doc_id(n), space(sp), kind, &format!("doc {n}"), updated);
        m.deleted = deleted;
        if kind == DocKind::Lesson {
            m.parent = Some(doc_id(1));
        }
        docs.push(DocWrite {
            meta: m,
            data: DocData::Replace(vec![n]),
            fts: FtsUpdate::Keep,
        });
    }
    t.store.write(&WriteBatch {
        docs,
        ..WriteBatch::default()
    })?;
    Ok(t)
}

#[rstest]
#[case::everything_live_newest_first(ListFilter::default(), &[1, 2, 3, 4])]
#[case::deleted_on_request(ListFilter { include_deleted: true, ..Default::default() }, &[1, 2, 3, 4, 5])]
#[case::by_kind(ListFilter { kinds: Some(vec![DocKind::Lesson, DocKind::Thread]), ..Default::default() }, &[2, 3, 4])]
#[case::by_space(ListFilter { spaces: Some(vec![space(2)]), ..Default::default() }, &[3, 4])]
#[case::by_parent(ListFilter { parent: Some(doc_id(1)), ..Default::default() }, &[2, 3])]
#[case::kind_and_space(ListFilter { kinds: Some(vec![DocKind::Lesson]), spaces: Some(vec![space(1)]), ..Default::default() }, &[2])]
#[case::no_kinds_means_nothing(ListFilter { kinds: Some(vec![]), ..Default::default() }, &[])]
#[case::limited(ListFilter { limit: Some(2), ..Default::default() }, &[1, 2])]
#[case::changed_after(ListFilter { updated_after: Some(Timestamp(30)), ..Default::default() }, &[1, 2])]
#[case::changed_after_in_a_space(ListFilter { spaces: Some(vec![space(2)]), kinds: Some(vec![DocKind::Thread, DocKind::Lesson]), updated_after: Some(Timestamp(19)), limit: Some(1), ..Default::default() }, &[3])]
fn lists_filter_and_order_by_update_time(
    #[case] filter: ListFilter,
    #[case] expected: &[u8],
) -> TestResult {
    let t = seeded()?;
    let got: Vec<_> = t.store.list(&filter)?.into_iter().map(|m| m.id).collect();
    let want: Vec<_> = expected.iter().map(|&n| doc_id(n)).collect();
    assert_eq!(got, want, "filter {filter:?}");
    Ok(())
}

#[rstest]
#[case::one_digit_matches_all("0", &[1, 2, 3, 4, 5])]
#[case::short_hash("0202", &[2])]
#[case::upper_case("0303030303", &[3])]
#[case::full_id("05050505050505050505050505050505", &[5])]
#[case::all_with_common_nibble("", &[])]
#[case::not_hex("zz", &[])]
#[case::too_long("050505050505050505050505050505050", &[])]
fn short_ids_resolve_like_git_hashes(#[case] prefix: &str, #[case] expected: &[u8]) -> TestResult {
    let t = seeded()?;
    let got: Vec<_> = t
        .store
        .find_by_prefix(prefix)?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let want: Vec<_> = expected.iter().map(|&n| doc_id(n)).collect();
    assert_eq!(got, want, "prefix {prefix:?}");
    Ok(())
}

#[test]
fn a_prefix_shared_by_several_documents_returns_them_all() -> TestResult {
    let mut t = TempStore::new()?;
    let mut a = [0xab; 16];
    a[15] = 1;
    let mut b = [0xab; 16];
    b[15] = 2;
    for id in [a, b] {
        let m = meta(
            cohort_model::DocId::from_bytes(id),
            space(1),
            DocKind::Note,
            "x",
            1,
        );
        t.store
            .write(&one(m, DocData::Replace(vec![1]), FtsUpdate::Keep))?;
    }
    assert_eq!(
        t.store.find_by_prefix("ABAB")?.len(),
        2,
        "ambiguous prefix lists both"
    );
    assert_eq!(t.store.find_by_prefix(&"ab".repeat(15))?.len(), 2);
    assert_eq!(
        t.store
            .find_by_prefix(&format!("{}02", "ab".repeat(15)))?
            .len(),
        1
    );
    let _ = Timestamp(0);
    Ok(())
}

#[test]
fn removed_documents_are_gone_with_their_changes_and_search_text() -> TestResult {
    let mut t = TempStore::new()?;
    let keep = meta(doc_id(1), space(1), DocKind::Note, "Keep", 10);
    let gone = meta(doc_id(2), space(1), DocKind::Note, "Gone", 11);
    for m in [&keep, &gone] {
        t.store.write(&one(
            m.clone(),
            DocData::Replace(vec![1; 100]),
            FtsUpdate::Replace(vec![entry("", &m.title, "marmalade")]),
        ))?;
        t.store.write(&one(
            m.clone(),
            DocData::Append(vec![2, 3]),
            FtsUpdate::MarkStale,
        ))?;
    }
    assert_eq!(
        t.store.remove_docs(&[doc_id(2), doc_id(3)])?,
        1,
        "only the stored document counts"
    );
    let t = t.reopen()?;
    assert_eq!(t.store.load(doc_id(2))?, None, "the document is gone");
    assert!(t.store.load(doc_id(1))?.is_some(), "the other one stays");
    let hits = t
        .store
        .search("marmalade", &cohort_store::SearchOptions::default())?;
    assert_eq!(
        hits.iter().map(|h| h.doc).collect::<Vec<_>>(),
        vec![doc_id(1)],
        "its search text is gone too"
    );
    assert_eq!(
        t.store.stale_fts()?,
        vec![doc_id(1)],
        "and its stale marker"
    );
    t.store.integrity_check()?;
    Ok(())
}
