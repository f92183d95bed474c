//! Learners find what was written, and only what still exists.

mod common;

use cohort_model::DocKind;
use cohort_store::{DocData, DocMeta, FtsUpdate, SNIPPET_START, SearchOptions};
use common::{TempStore, TestResult, doc_id, entry, meta, one, space};
use rstest::rstest;

fn thread(n: u8, sp: u8) -> DocMeta {
    meta(
        doc_id(n),
        space(sp),
        DocKind::Thread,
        &format!("Thread {n}"),
        n.into(),
    )
}

fn store_with_posts() -> Result<TempStore, Box<dyn std::error::Error>> {
    let mut t = TempStore::new()?;
    t.store.write(&one(
        thread(1, 1),
        DocData::Replace(vec![1]),
        FtsUpdate::Replace(vec![
            entry(
                "p1",
                "How does photosynthesis work?",
                "I read that chlorophyll absorbs light.",
            ),
            entry(
                "p2",
                "How does photosynthesis work?",
                "The Calvin cycle fixes carbon dioxide.",
            ),
        ]),
    ))?;
    t.store.write(&one(
        meta(doc_id(2), space(2), DocKind::Note, "Café notes", 2),
        DocData::Replace(vec![1]),
        FtsUpdate::Replace(vec![entry(
            "",
            "Café notes",
            "Espresso extraction and crema.",
        )]),
    ))?;
    Ok(t)
}

fn hits(t: &TempStore, q: &str) -> Result<Vec<(u8, String)>, Box<dyn std::error::Error>> {
    Ok(t.store
        .search(q, &SearchOptions::default())?
        .into_iter()
        .map(|h| (h.doc.as_bytes()[0], h.part))
        .collect())
}

#[test]
fn written_text_is_found_with_a_highlighted_snippet() -> TestResult {
    let t = store_with_posts()?;
    let found = t.store.search("calvin", &SearchOptions::default())?;
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].doc, found[0].part.as_str()), (doc_id(1), "p2"));
    assert_eq!(found[0].kind, DocKind::Thread);
    assert_eq!(found[0].space, space(1));
    assert_eq!(
        found[0].title, "Thread 1",
        "hit titles come from the document metadata"
    );
    assert!(
        found[0].snippet.contains(&format!("{SNIPPET_START}Calvin")),
        "{:?}",
        found[0].snippet
    );
    assert_eq!(
        hits(&t, "cafe")?,
        vec![(2, String::new())],
        "diacritics are folded"
    );
    assert_eq!(
        hits(&t, "chloro")?,
        vec![(1, "p1".into())],
        "the last word matches as a prefix"
    );
    assert_eq!(
        hits(&t, "light chlorophyll")?,
        vec![(1, "p1".into())],
        "all words must match"
    );
    Ok(())
}

#[test]
fn a_title_match_ranks_above_a_body_match() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.write(&one(
        thread(1, 1),
        DocData::Replace(vec![1]),
        FtsUpdate::Replace(vec![
            entry(
                "a",
                "Other",
                "mitochondria mentioned in passing among many other words here",
            ),
            entry("b", "Mitochondria", "the powerhouse"),
        ]),
    ))?;
    assert_eq!(
        hits(&t, "mitochondria")?.first().map(|h| h.1.as_str()),
        Some("b")
    );
    Ok(())
}

#[test]
fn upsert_replaces_one_part_and_keeps_the_others() -> TestResult {
    let mut t = store_with_posts()?;
    t.store.write(&one(
        thread(1, 1),
        DocData::MetaOnly,
        FtsUpdate::Upsert(vec![entry(
            "p2",
            "How does photosynthesis work?",
            "Edited: the light reactions make ATP.",
        )]),
    ))?;
    assert!(hits(&t, "calvin")?.is_empty(), "the old text of p2 is gone");
    assert_eq!(hits(&t, "ATP")?, vec![(1, "p2".into())]);
    assert_eq!(
        hits(&t, "chlorophyll")?,
        vec![(1, "p1".into())],
        "p1 is untouched"
    );
    t.store.integrity_check()?;
    Ok(())
}

#[rstest]
#[case::remove_one_part(FtsUpdate::Remove(vec!["p1".into()]), false, &["calvin"], &["chlorophyll"])]
#[case::remove_all(FtsUpdate::RemoveAll, false, &[], &["chlorophyll", "calvin"])]
#[case::replace_all(FtsUpdate::Replace(vec![entry("p9", "t", "ribosome")]), false, &["ribosome"], &["chlorophyll", "calvin"])]
#[case::deleted_document(FtsUpdate::Keep, true, &[], &["chlorophyll", "calvin"])]
fn removed_text_and_deleted_documents_are_not_found(
    #[case] update: FtsUpdate,
    #[case] delete: bool,
    #[case] still_found: &[&str],
    #[case] gone: &[&str],
) -> TestResult {
    let mut t = store_with_posts()?;
    let mut m = thread(1, 1);
    m.deleted = delete;
    t.store.write(&one(m, DocData::MetaOnly, update))?;
    let t = t.reopen()?;
    for q in still_found {
        assert!(!hits(&t, q)?.is_empty(), "{q} must still be found");
    }
    for q in gone {
        assert!(hits(&t, q)?.is_empty(), "{q} must no longer be found");
    }
    t.store.integrity_check()?;
    Ok(())
}

#[rstest]
#[case("\"")]
#[case("AND(")]
#[case("*")]
#[case("-")]
#[case("NOT")]
#[case("OR OR")]
#[case("title:foo")]
#[case("\"unbalanced ( quote")]
#[case("NEAR(a b)")]
#[case("^start")]
#[case("a\u{0}b")]
#[case("💥 🔥")]
#[case("")]
#[case("   ")]
#[case("x*y\"z'w{}[]:;")]
fn hostile_queries_never_error(#[case] q: &str) -> TestResult {
    let t = store_with_posts()?;
    t.store.search(q, &SearchOptions::default())?;
    Ok(())
}

#[test]
fn empty_queries_return_nothing() -> TestResult {
    let t = store_with_posts()?;
    assert!(hits(&t, "")?.is_empty());
    assert!(hits(&t, " \" * ")?.is_empty());
    Ok(())
}

#[rstest]
#[case::all(None, None, "photosynthesis espresso", 0)]
#[case::one_space(Some(vec![space(2)]), None, "notes", 1)]
#[case::other_space(Some(vec![space(1)]), None, "notes", 0)]
#[case::by_kind(None, Some(vec![DocKind::Thread]), "photosynthesis", 2)]
#[case::wrong_kind(None, Some(vec![DocKind::Note]), "photosynthesis", 0)]
#[case::kind_and_space(Some(vec![space(1)]), Some(vec![DocKind::Thread, DocKind::Note]), "how", 2)]
fn space_and_kind_filters_narrow_results(
    #[case] spaces: Option<Vec<cohort_model::SpaceId>>,
    #[case] kinds: Option<Vec<DocKind>>,
    #[case] q: &str,
    #[case] expected: usize,
) -> TestResult {
    let t = store_with_posts()?;
    let found = t.store.search(
        q,
        &SearchOptions {
            spaces,
            kinds,
            limit: 10,
        },
    )?;
    assert_eq!(found.len(), expected, "query {q:?}: {found:?}");
    Ok(())
}

#[test]
fn limit_caps_the_hits() -> TestResult {
    let t = store_with_posts()?;
    let opts = |limit| SearchOptions {
        limit,
        ..Default::default()
    };
    assert_eq!(t.store.search("photosynthesis", &opts(1))?.len(), 1);
    assert_eq!(t.store.search("photosynthesis", &opts(0))?.len(), 0);
    Ok(())
}
