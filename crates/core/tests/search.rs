//! Search: a learner finds lessons, posts, notes and journal entries by their words, sees
//! current text (not what was deleted), and a cohort's search never shows private entries.

use std::error::Error;

use cohort_core::{Core, SearchResult};
use cohort_model::{DocId, DocKind, ItemId, SpaceId, Splice, ThreadKind, utf16_len};
use cohort_testkit::{open, open_seeded, temp_dir};

type TestResult<T> = Result<T, Box<dyn Error>>;

/// A cohort with one document of each searchable kind, each with its own rare word.
struct Library {
    _dir: tempfile::TempDir,
    core: Core,
    cohort: SpaceId,
    lesson: DocId,
    thread: DocId,
    reply: ItemId,
    note: DocId,
    entry: DocId,
}

const LESSON_BODY: &str = "Ça change tout: Photosynthesis turns the quick brown light into sugar.";

fn library() -> TestResult<Library> {
    let dir = cohort_testkit::temp_dir()?;
    let mut core = open(dir.path())?;
    let cohort = core.create_cohort("Botany circle", "Plants")?;
    let course = core.create_course(cohort, "Leaves", "")?;
    let lesson = core.add_lesson(course, None, "Light", LESSON_BODY)?;
    let thread = core.new_thread(
        cohort,
        ThreadKind::Question,
        "Green question",
        "Why are leaves green?",
        Some(lesson),
        None,
    )?;
    let reply = core.reply(thread, "Because of Chlorophyll, mostly.", None)?;
    let note = core.new_note(cohort, "Organelles", "Mitochondria make energy.", &[], None)?;
    let entry = core.add_journal("Tuesday", "A moment of serendipity at the lab.", &[])?;
    Ok(Library {
        _dir: dir,
        core,
        cohort,
        lesson,
        thread,
        reply,
        note,
        entry,
    })
}

fn docs(hits: &[SearchResult]) -> Vec<DocId> {
    hits.iter().map(|h| h.doc).collect()
}

/// Every highlight of every hit covers `word`, case aside.
fn assert_highlights(hits: &[SearchResult], word: &str) {
    for hit in hits {
        assert!(
            !hit.highlights.is_empty(),
            "a hit for {word:?} must highlight it in {:?}",
            hit.snippet
        );
        for h in &hit.highlights {
            let marked = hit.snippet.get(h[0]..h[1]).unwrap_or_else(|| {
                panic!("highlight {h:?} is not a char range of {:?}", hit.snippet)
            });
            assert!(
                marked.eq_ignore_ascii_case(word),
                "the highlight must point at {word:?}, not {marked:?} (snippet {:?})",
                hit.snippet
            );
        }
    }
}

#[test]
fn each_searchable_kind_is_found_by_its_words_with_the_word_highlighted() {
    let mut lib = library().unwrap();

    let hits = lib.core.search("photosynthesis", None, None, 10).unwrap();
    assert_eq!(
        docs(&hits),
        vec![lib.lesson],
        "a lesson is found by its body"
    );
    assert_eq!(hits[0].kind, DocKind::Lesson);
    assert_eq!(hits[0].title, "Light");
    assert_eq!(hits[0].part, "", "a lesson hit has no part");
    // The snippet starts with non-ASCII text, so byte and char positions differ.
    assert_highlights(&hits, "photosynthesis");

    let hits = lib.core.search("chlorophyll", None, None, 10).unwrap();
    assert_eq!(docs(&hits), vec![lib.thread], "a reply is found");
    assert_eq!(
        hits[0].part,
        lib.reply.to_string(),
        "a post hit names the post that matched"
    );
    assert_highlights(&hits, "chlorophyll");

    let hits = lib.core.search("green", None, None, 10).unwrap();
    assert_eq!(
        docs(&hits),
        vec![lib.thread],
        "a thread matching by title and opening post is listed once"
    );
    let first = lib.core.resolve_post(lib.thread, "#1").unwrap();
    assert_eq!(hits[0].part, first.to_string());

    let hits = lib.core.search("mitochondria", None, None, 10).unwrap();
    assert_eq!(docs(&hits), vec![lib.note], "a note is found");
    assert_eq!(hits[0].kind, DocKind::Note);
    assert_highlights(&hits, "mitochondria");

    let hits = lib.core.search("serendipity", None, None, 10).unwrap();
    assert_eq!(docs(&hits), vec![lib.entry], "a journal entry is found");
    assert_eq!(hits[0].kind, DocKind::JournalEntry);
    assert_highlights(&hits, "serendipity");

    let only_notes = lib
        .core
        .search(
            "mitochondria photosynthesis",
            None,
            Some(&[DocKind::Note]),
            10,
        )
        .unwrap();
    assert!(
        only_notes.is_empty(),
        "all words must match, and a kind filter keeps other kinds out"
    );
}

#[test]
fn a_lesson_edited_by_splices_is_found_by_its_new_words_only() {
    let mut lib = library().unwrap();
    // Warm the index so stale rows would be what the next search reads.
    assert_eq!(lib.core.search("brown", None, None, 10).unwrap().len(), 1);

    let start = utf16_len("Ça change tout: Photosynthesis turns the quick ");
    lib.core
        .splice_lesson(
            lib.lesson,
            &[Splice {
                pos: start,
                delete: utf16_len("brown"),
                insert: "crimson".into(),
            }],
        )
        .unwrap();

    let hits = lib.core.search("crimson", None, None, 10).unwrap();
    assert_eq!(
        docs(&hits),
        vec![lib.lesson],
        "the next search must see the lesson's new word"
    );
    assert_highlights(&hits, "crimson");
    assert!(
        lib.core.search("brown", None, None, 10).unwrap().is_empty(),
        "a word deleted by a splice must no longer find the lesson"
    );

    // The same holds for splices made just before the app closed.
    lib.core
        .splice_lesson(lib.lesson, &[Splice::insert(0, "Zeitgeist. ")])
        .unwrap();
    let Library {
        _dir: dir,
        core,
        lesson,
        ..
    } = lib;
    drop(core);
    let mut core = open_seeded(dir.path(), 2).unwrap();
    assert_eq!(
        docs(&core.search("zeitgeist", None, None, 10).unwrap()),
        vec![lesson],
        "a splice made before a restart is searchable after it"
    );
}

#[test]
fn deleted_documents_are_not_found() {
    let mut lib = library().unwrap();
    lib.core.delete(lib.note).unwrap();
    lib.core.delete(lib.thread).unwrap();
    assert!(
        lib.core
            .search("mitochondria", None, None, 10)
            .unwrap()
            .is_empty(),
        "a deleted note must not be found"
    );
    assert!(
        lib.core
            .search("chlorophyll", None, None, 10)
            .unwrap()
            .is_empty(),
        "the posts of a deleted thread must not be found"
    );

    // Deleting a lesson right after splicing it (rows marked stale) must not bring it back.
    lib.core
        .splice_lesson(lib.lesson, &[Splice::insert(0, "Quasar ")])
        .unwrap();
    lib.core.delete(lib.lesson).unwrap();
    assert!(
        lib.core
            .search("quasar", None, None, 10)
            .unwrap()
            .is_empty()
            && lib
                .core
                .search("photosynthesis", None, None, 10)
                .unwrap()
                .is_empty(),
        "a deleted lesson must not be found, by old or new words"
    );
}

#[test]
fn a_cohort_search_shows_shared_journal_copies_but_never_private_entries() {
    let mut lib = library().unwrap();
    let personal = lib.core.personal_space();

    assert!(
        lib.core
            .search("serendipity", Some(lib.cohort), None, 10)
            .unwrap()
            .is_empty(),
        "a private journal entry must not appear in a cohort's search"
    );
    assert_eq!(
        docs(
            &lib.core
                .search("serendipity", Some(personal), None, 10)
                .unwrap()
        ),
        vec![lib.entry],
        "the personal space's search finds it"
    );
    assert!(
        lib.core
            .search("photosynthesis", Some(personal), None, 10)
            .unwrap()
            .is_empty(),
        "a personal search keeps cohort lessons out"
    );

    let copy = lib.core.share_journal(lib.entry, lib.cohort).unwrap();
    let hits = lib
        .core
        .search("serendipity", Some(lib.cohort), None, 10)
        .unwrap();
    assert_eq!(
        docs(&hits),
        vec![copy],
        "the cohort finds the shared copy, not the private original"
    );
    assert_eq!(hits[0].space, lib.cohort);
    assert_highlights(&hits, "serendipity");
}

#[test]
fn highlights_mark_every_occurrence_of_the_word() -> TestResult<()> {
    let dir = temp_dir()?;
    let mut core = open(dir.path())?;
    let space = core.personal_space();
    core.new_note(
        space,
        "Échos",
        "Écho, ÉCHO and écho: three echoes of écho.",
        &[],
        None,
    )?;
    let hits = core.search("écho", None, None, 10)?;
    assert_eq!(hits.len(), 1);
    let marked: Vec<String> = hits[0]
        .highlights
        .iter()
        .map(|h| hits[0].snippet[h[0]..h[1]].to_lowercase())
        .collect();
    assert!(
        marked.len() >= 4 && marked.iter().all(|m| m.starts_with("écho")),
        "each occurrence of the accented word is marked, whatever its case: {marked:?} in {:?}",
        hits[0].snippet
    );
    Ok(())
}

#[test]
fn control_characters_in_the_text_do_not_become_highlights() -> TestResult<()> {
    let dir = temp_dir()?;
    let mut core = open(dir.path())?;
    let space = core.personal_space();
    // U+0002/U+0003 are what the store marks matches with; pasted text may contain them.
    core.new_note(space, "Pasted", "alpha \u{2}beta\u{3} gamma", &[], None)?;
    let hits = core.search("gamma", None, None, 10)?;
    assert_eq!(hits.len(), 1);
    assert_highlights(&hits, "gamma");
    Ok(())
}
