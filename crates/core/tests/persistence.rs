//! Persistence: what the core writes is what it reads back after a restart, however many
//! edits it folded into snapshots on the way; and one data dir is open in one core at a time.

use std::collections::BTreeMap;
use std::error::Error;

use cohort_core::{COMPACT_AFTER_CHUNKS, Core, CoreError};
use cohort_model::{DocId, DocKind, Splice, ThreadKind};
use cohort_testkit::{open, open_seeded, temp_dir};

type TestResult<T> = Result<T, Box<dyn Error>>;

/// Every document held here, read back as JSON with the length of its history.
fn everything(core: &mut Core) -> TestResult<BTreeMap<DocId, (serde_json::Value, usize)>> {
    let mut out = BTreeMap::new();
    for summary in core.list(&DocKind::ALL, None, None)? {
        let json = core.export_json(summary.id)?;
        let history = core.history(summary.id)?.len();
        out.insert(summary.id, (json, history));
    }
    Ok(out)
}

fn stored_chunks(core: &Core, doc: DocId) -> TestResult<usize> {
    let stored = core
        .store()
        .load(doc)?
        .ok_or("the document is not in the store")?;
    Ok(stored.chunks.len())
}

#[test]
fn many_edits_fold_into_snapshots_and_read_back_identically_after_a_restart() {
    let edits = COMPACT_AFTER_CHUNKS + 8;
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core
        .create_cohort("Evening Rust", "Learn together")
        .unwrap();
    let course = core.create_course(cohort, "Ownership", "").unwrap();
    let lesson = core.add_lesson(course, None, "Borrowing", "").unwrap();
    let thread = core
        .new_thread(
            cohort,
            ThreadKind::Idea,
            "Lifetimes",
            "Let's talk.",
            None,
            None,
        )
        .unwrap();
    let note = core.new_note(cohort, "Typing log", "", &[], None).unwrap();
    let item = core.add_checklist_item(lesson, "Type it all").unwrap();

    // Keystroke-sized edits, as an editor sends them.
    for i in 0..edits {
        let word = format!("w{i} ");
        core.splice_lesson(lesson, &[Splice::insert(0, &word)])
            .unwrap();
        core.splice_text_doc(note, &[Splice::insert(0, &word)])
            .unwrap();
        core.reply(thread, &format!("reply number {i}"), None)
            .unwrap();
        core.tick(lesson, item, i % 2 == 0).unwrap();
    }

    for doc in [lesson, note, thread] {
        let chunks = stored_chunks(&core, doc).unwrap();
        assert!(
            chunks < COMPACT_AFTER_CHUNKS && chunks < edits,
            "{edits} edits must have been folded into a snapshot, but {chunks} chunks remain"
        );
    }
    let stats = core.store().stats().unwrap();
    assert!(
        stats.chunks < (4 * edits) as u64,
        "the store must hold fewer chunks ({}) than the {} edits made",
        stats.chunks,
        4 * edits
    );

    let before = everything(&mut core).unwrap();
    assert!(
        before[&thread].1 > edits,
        "the thread's history holds every reply"
    );
    drop(core);

    let mut core = open_seeded(dir.path(), 2).unwrap();
    assert_eq!(
        everything(&mut core).unwrap(),
        before,
        "every document must read back identically after a restart"
    );

    // Editing continues from the reloaded snapshot + chunks, and folds again.
    for i in 0..edits {
        core.splice_lesson(lesson, &[Splice::insert(0, "x")])
            .unwrap();
        core.reply(thread, &format!("after restart {i}"), None)
            .unwrap();
    }
    let body = core.lesson(lesson).unwrap().lesson.body;
    assert!(body.starts_with(&"x".repeat(edits)), "every splice landed");
    let again = everything(&mut core).unwrap();
    drop(core);
    let mut core = open_seeded(dir.path(), 3).unwrap();
    assert_eq!(
        everything(&mut core).unwrap(),
        again,
        "edits made after a restart also read back identically"
    );
    assert_eq!(
        core.thread(thread).unwrap().thread.posts.len(),
        1 + 2 * edits,
        "no reply is lost across restarts and snapshot rewrites"
    );
}

#[test]
fn a_data_dir_is_open_in_one_core_at_a_time() {
    let dir = temp_dir().unwrap();
    let first = open(dir.path()).unwrap();

    match open_seeded(dir.path(), 2) {
        Err(CoreError::Locked { path }) => {
            assert_eq!(path, dir.path(), "the error names the locked data dir");
        }
        other => panic!("a second core on an open data dir must fail as locked, got {other:?}"),
    }
    assert_eq!(
        open_seeded(dir.path(), 3).map(drop).map_err(|e| e.code()),
        Err("data_dir_locked"),
        "the lock holds for as long as the first core is open"
    );

    drop(first);
    let mut second = open_seeded(dir.path(), 4).expect("the lock is released with the core");
    assert_eq!(
        second.me().unwrap().display_name,
        "Test Learner",
        "the reopened data dir keeps its identity"
    );
}
