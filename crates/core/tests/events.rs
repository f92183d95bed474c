//! Change events: every mutation announces exactly the documents it changed, and only once
//! those changes are committed to the database; a mutation that fails announces nothing and
//! changes nothing.

use std::error::Error;

use automerge::AutoCommit;
use cohort_core::{ChangeEvent, ChangeKind, Core, DB_FILE};
use cohort_model::{
    DocId, DocKind, ItemId, NewPost, NewThread, PersonId, SpaceId, Splice, Thread, ThreadKind,
};
use cohort_store::Store;
use cohort_testkit::{EPOCH, open, open_seeded, temp_dir};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

type TestResult<T> = Result<T, Box<dyn Error>>;

fn event(doc: DocId, space: SpaceId, kind: DocKind, change: ChangeKind) -> ChangeEvent {
    ChangeEvent {
        doc,
        space,
        kind,
        change,
    }
}

/// Every event already waiting (the core sends them before the mutation returns).
fn drain(rx: &mut Receiver<ChangeEvent>) -> TestResult<Vec<ChangeEvent>> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => out.push(e),
            Err(TryRecvError::Empty) => return Ok(out),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The heads of a document as a separate connection reads it from the database file.
fn stored_heads(observer: &Store, doc: DocId) -> TestResult<Option<Vec<automerge::ChangeHash>>> {
    let Some(stored) = observer.load(doc)? else {
        return Ok(None);
    };
    let mut am = if stored.snapshot.is_empty() {
        AutoCommit::new()
    } else {
        AutoCommit::load(&stored.snapshot)?
    };
    for chunk in &stored.chunks {
        am.load_incremental(chunk)?;
    }
    let mut heads = am.get_heads();
    heads.sort();
    Ok(Some(heads))
}

/// The heads of the core's current copy of a document.
fn live_heads(core: &mut Core, doc: DocId) -> TestResult<Vec<automerge::ChangeHash>> {
    let mut heads = AutoCommit::load(&core.export_automerge(doc)?)?.get_heads();
    heads.sort();
    Ok(heads)
}

/// Receives what the last mutation announced, checks it is exactly `expected`, and checks
/// through an independent database connection that each announced document is already
/// stored as the core holds it (so a listener that re-reads never sees stale data).
fn expect(
    core: &mut Core,
    rx: &mut Receiver<ChangeEvent>,
    observer: &Store,
    why: &str,
    expected: &[ChangeEvent],
) -> TestResult<()> {
    let got = drain(rx)?;
    assert_eq!(got, expected, "{why}: wrong events");
    for e in &got {
        let meta = observer
            .meta(e.doc)?
            .ok_or_else(|| format!("{why}: {:?} was announced before it was stored", e.doc))?;
        assert_eq!(
            (meta.kind, meta.space),
            (e.kind, e.space),
            "{why}: the stored document is not the announced kind and space"
        );
        assert_eq!(
            meta.deleted,
            e.change == ChangeKind::Deleted,
            "{why}: the stored deleted flag disagrees with the announcement"
        );
        assert_eq!(
            stored_heads(observer, e.doc)?,
            Some(live_heads(core, e.doc)?),
            "{why}: the announced change is not yet in the database"
        );
    }
    Ok(())
}

fn only(core: &Core, kind: DocKind, space: SpaceId) -> TestResult<DocId> {
    let found = core.list(&[kind], Some(space), None)?;
    match found.as_slice() {
        [one] => Ok(one.id),
        other => Err(format!("expected one {kind} in the space, found {}", other.len()).into()),
    }
}

/// A question written by someone else, as it would arrive from a peer.
fn peer_question(space: SpaceId) -> TestResult<(DocId, Vec<u8>)> {
    let id = DocId::from_bytes([0x77; 16]);
    let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(vec![0x77u8; 16]));
    Thread::create(
        &mut doc,
        &NewThread {
            id,
            space,
            kind: ThreadKind::Question,
            title: "A peer asks",
            lesson: None,
            anchor: None,
            first_post: NewPost {
                id: ItemId::from_bytes([0x78; 16]),
                author: PersonId::from_bytes([0x79; 16]),
                body: "Is this shared?",
                at: EPOCH,
                reply_to: None,
            },
        },
    )?;
    Ok((id, doc.save()))
}

#[test]
fn every_mutation_announces_exactly_its_documents_once_they_are_stored() {
    use ChangeKind::{Created, Deleted, Imported, Updated};
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let observer = Store::open(&dir.path().join(DB_FILE)).unwrap();
    let mut rx = core.subscribe();
    let personal = core.personal_space();

    let cohort = core
        .create_cohort("Evening Rust", "Learn together")
        .unwrap();
    let charter = only(&core, DocKind::Charter, cohort).unwrap();
    let log = only(&core, DocKind::Membership, cohort).unwrap();
    let card = only(&core, DocKind::Profile, cohort).unwrap();
    let profile = only(&core, DocKind::Profile, personal).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a new cohort is its charter, its membership log and the creator's member card, and the profile lists it (for the person's other devices)",
        &[
            event(charter, cohort, DocKind::Charter, Created),
            event(log, cohort, DocKind::Membership, Created),
            event(card, cohort, DocKind::Profile, Created),
            event(profile, personal, DocKind::Profile, Updated),
        ],
    )
    .unwrap();

    let course = core.create_course(cohort, "Ownership", "Moves").unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a course is one new document",
        &[event(course, cohort, DocKind::Course, Created)],
    )
    .unwrap();

    let lesson = core
        .add_lesson(course, None, "Borrowing", "A reference borrows a value.")
        .unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a lesson is created and placed in its course's outline",
        &[
            event(lesson, cohort, DocKind::Lesson, Created),
            event(course, cohort, DocKind::Course, Updated),
        ],
    )
    .unwrap();

    let thread = core
        .new_thread(
            cohort,
            ThreadKind::Question,
            "Why borrow?",
            "Why not copy?",
            Some(lesson),
            Some((2, 11)),
        )
        .unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "opening a thread creates only the thread (the lesson is not touched)",
        &[event(thread, cohort, DocKind::Thread, Created)],
    )
    .unwrap();

    let answer = core.reply(thread, "Copies cost.", None).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a reply updates its thread",
        &[event(thread, cohort, DocKind::Thread, Updated)],
    )
    .unwrap();

    core.react(thread, answer, "👍", true).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a reaction updates its thread",
        &[event(thread, cohort, DocKind::Thread, Updated)],
    )
    .unwrap();

    core.accept(thread, Some(answer)).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "accepting an answer updates its thread",
        &[event(thread, cohort, DocKind::Thread, Updated)],
    )
    .unwrap();

    let note = core
        .new_note(cohort, "Cheat sheet", "&T and &mut T", &[], Some(lesson))
        .unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a note is one new document in its space",
        &[event(note, cohort, DocKind::Note, Created)],
    )
    .unwrap();

    let entry = core
        .add_journal("Today", "Borrowing clicked.", &[])
        .unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a journal entry is created in the personal space",
        &[event(entry, personal, DocKind::JournalEntry, Created)],
    )
    .unwrap();

    let copy = core.share_journal(entry, cohort).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "sharing creates the cohort's copy and records it on the private entry",
        &[
            event(copy, cohort, DocKind::JournalEntry, Created),
            event(entry, personal, DocKind::JournalEntry, Updated),
        ],
    )
    .unwrap();

    let item = core.add_checklist_item(lesson, "Read the chapter").unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a checklist item updates its lesson",
        &[event(lesson, cohort, DocKind::Lesson, Updated)],
    )
    .unwrap();

    core.tick(lesson, item, true).unwrap();
    let progress = only(&core, DocKind::Progress, cohort).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "the first tick starts the learner's progress record and then ticks in it",
        &[
            event(progress, cohort, DocKind::Progress, Created),
            event(progress, cohort, DocKind::Progress, Updated),
        ],
    )
    .unwrap();

    core.complete_lesson(lesson, true).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "completing a lesson updates the existing progress record only",
        &[event(progress, cohort, DocKind::Progress, Updated)],
    )
    .unwrap();

    core.splice_lesson(lesson, &[Splice::insert(0, "Note: ")])
        .unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a splice updates its lesson",
        &[event(lesson, cohort, DocKind::Lesson, Updated)],
    )
    .unwrap();

    let (peer_thread, bytes) = peer_question(cohort).unwrap();
    assert_eq!(core.import_automerge(&bytes).unwrap(), peer_thread);
    expect(
        &mut core,
        &mut rx,
        &observer,
        "a document new here arrives as imported",
        &[event(peer_thread, cohort, DocKind::Thread, Imported)],
    )
    .unwrap();

    let exported = core.export_automerge(thread).unwrap();
    core.import_automerge(&exported).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "re-importing a document held here is announced as imported too",
        &[event(thread, cohort, DocKind::Thread, Imported)],
    )
    .unwrap();

    core.delete(note).unwrap();
    expect(
        &mut core,
        &mut rx,
        &observer,
        "deleting announces the deletion with the document's kind and space",
        &[event(note, cohort, DocKind::Note, Deleted)],
    )
    .unwrap();

    // Everything announced survives a restart.
    drop(core);
    assert!(
        matches!(rx.try_recv(), Err(TryRecvError::Closed)),
        "closing the core ends the event stream, with nothing left unsent"
    );
    let mut core = open_seeded(dir.path(), 2).unwrap();
    assert_eq!(core.charter(cohort).unwrap().name, "Evening Rust");
    let outline = core.course(course).unwrap().outline;
    assert_eq!(
        outline[0].lessons[0].id, lesson,
        "the lesson placed in the course is there after a restart"
    );
    assert!(
        outline[0].lessons[0].completed,
        "the completion is there after a restart"
    );
    let view = core.lesson(lesson).unwrap();
    assert!(
        view.lesson.body.starts_with("Note: "),
        "the splice was stored"
    );
    assert_eq!(view.progress.checklist.get(&item), Some(&true));
    let t = core.thread(thread).unwrap().thread;
    assert_eq!(t.posts.len(), 2, "the reply was stored");
    assert_eq!(t.accepted, Some(answer), "the accepted answer was stored");
    assert_eq!(t.posts[1].reactions.get("👍").map(Vec::len), Some(1));
    assert_eq!(core.journal_entry(entry).unwrap().shared_as, Some(copy));
    assert_eq!(core.journal_entry(copy).unwrap().header.space, cohort);
    assert_eq!(
        core.thread(peer_thread).unwrap().thread.title,
        "A peer asks"
    );
    assert!(
        core.list(&[DocKind::Note], Some(cohort), None)
            .unwrap()
            .is_empty(),
        "the deleted note stays deleted"
    );
}

/// What a data dir holds, to show a failed mutation left it alone.
fn fingerprint(core: &mut Core, docs: &[DocId]) -> TestResult<Vec<(serde_json::Value, usize)>> {
    let mut out = Vec::new();
    for &d in docs {
        out.push((core.export_json(d)?, core.history(d)?.len()));
    }
    let s = core.stats()?;
    out.push((
        serde_json::json!([s.docs, s.chunks, s.snapshot_bytes, s.chunk_bytes]),
        0,
    ));
    Ok(out)
}

#[test]
fn a_failed_mutation_announces_nothing_and_changes_nothing() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();
    let course = core.create_course(cohort, "Ownership", "").unwrap();
    let lesson = core
        .add_lesson(course, None, "Borrowing", "A reference borrows.")
        .unwrap();
    let thread = core
        .new_thread(
            cohort,
            ThreadKind::Question,
            "Why?",
            "Why borrow?",
            None,
            None,
        )
        .unwrap();
    let question = core.resolve_post(thread, "#1").unwrap();
    let charter = only(&core, DocKind::Charter, cohort).unwrap();
    let docs = [course, lesson, thread, charter];
    let before = fingerprint(&mut core, &docs).unwrap();
    let mut rx = core.subscribe();

    let unknown = DocId::from_bytes([0xee; 16]);
    let failures: Vec<(&str, cohort_core::Result<()>)> = vec![
        (
            "a reply to an unknown thread",
            core.reply(unknown, "hello?", None).map(drop),
        ),
        (
            // The first splice is valid: the whole change must be rolled back.
            "a splice list whose second splice is out of range",
            core.splice_lesson(
                lesson,
                &[Splice::insert(0, "LOST "), Splice::delete(1_000, 1)],
            ),
        ),
        (
            "accepting the question as its own answer",
            core.accept(thread, Some(question)),
        ),
        (
            "a reaction to an unknown post",
            core.react(thread, ItemId::from_bytes([0xee; 16]), "👍", true),
        ),
        (
            "a lesson for an unknown module",
            core.add_lesson(course, Some(ItemId::from_bytes([0xee; 16])), "X", "")
                .map(drop),
        ),
        ("deleting a charter", core.delete(charter)),
        (
            "importing bytes that are not a document",
            core.import_automerge(b"not automerge").map(drop),
        ),
    ];
    for (what, result) in failures {
        assert!(result.is_err(), "{what} must fail");
    }
    // A bulk import with one bad file writes none of them.
    let (peer_thread, good) = peer_question(cohort).unwrap();
    assert!(
        core.import_batch(&[&good, b"junk"]).is_err(),
        "a batch with a bad file must fail"
    );

    assert_eq!(
        drain(&mut rx).unwrap(),
        Vec::new(),
        "failed mutations must not announce anything"
    );
    assert_eq!(
        fingerprint(&mut core, &docs).unwrap(),
        before,
        "failed mutations must not change any document or the database"
    );
    assert!(
        core.summary(peer_thread).is_err(),
        "the good file of a failed batch must not be stored"
    );

    // A later successful edit must not carry the rolled-back splice along with it.
    core.splice_lesson(lesson, &[Splice::insert(0, "Kept ")])
        .unwrap();
    assert_eq!(drain(&mut rx).unwrap().len(), 1);
    drop(core);
    let mut core = open_seeded(dir.path(), 2).unwrap();
    assert_eq!(
        core.lesson(lesson).unwrap().lesson.body,
        "Kept A reference borrows.",
        "the rolled-back splice must not reappear after a later edit and a restart"
    );
    assert_eq!(core.thread(thread).unwrap().thread.accepted, None);
}

#[test]
fn a_document_twice_in_one_bulk_import_is_announced_once() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();
    let (peer_thread, bytes) = peer_question(cohort).unwrap();
    let mut rx = core.subscribe();

    let ids = core.import_batch(&[&bytes, &bytes]).unwrap();
    assert_eq!(ids, vec![peer_thread, peer_thread]);
    assert_eq!(
        drain(&mut rx).unwrap(),
        vec![event(
            peer_thread,
            cohort,
            DocKind::Thread,
            ChangeKind::Imported
        )],
        "one document changed, so one event"
    );
}

/// Makes every write of document data fail, as a full disk would, until the returned
/// connection drops the triggers again.
fn refuse_writes(dir: &std::path::Path) -> TestResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE))?;
    conn.execute_batch(
        "CREATE TRIGGER refuse_chunks BEFORE INSERT ON chunks
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;
         CREATE TRIGGER refuse_new_docs BEFORE INSERT ON docs
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;
         CREATE TRIGGER refuse_doc_updates BEFORE UPDATE ON docs
             BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )?;
    Ok(conn)
}

fn allow_writes(conn: &rusqlite::Connection) -> TestResult<()> {
    conn.execute_batch(
        "DROP TRIGGER refuse_chunks; DROP TRIGGER refuse_new_docs; DROP TRIGGER refuse_doc_updates;",
    )?;
    Ok(())
}

#[test]
fn a_mutation_whose_write_fails_announces_nothing_and_is_not_kept_in_memory() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();
    let course = core.create_course(cohort, "Ownership", "").unwrap();
    let lesson = core
        .add_lesson(course, None, "Borrowing", "A reference borrows.")
        .unwrap();
    let mut rx = core.subscribe();

    let guard = refuse_writes(dir.path()).unwrap();
    let splice = core.splice_lesson(lesson, &[Splice::insert(0, "LOST ")]);
    assert!(
        splice.is_err(),
        "an edit whose transaction cannot commit must report the failure"
    );
    assert!(
        core.create_course(cohort, "Never stored", "").is_err(),
        "a new document that cannot be stored must report the failure"
    );
    assert_eq!(
        drain(&mut rx).unwrap(),
        Vec::new(),
        "nothing was stored, so nothing may be announced"
    );
    assert_eq!(
        core.lesson(lesson).unwrap().lesson.body,
        "A reference borrows.",
        "the unsaved edit must not linger in memory"
    );

    allow_writes(&guard).unwrap();
    core.splice_lesson(lesson, &[Splice::insert(0, "Kept ")])
        .unwrap();
    assert_eq!(
        drain(&mut rx).unwrap(),
        vec![event(lesson, cohort, DocKind::Lesson, ChangeKind::Updated)],
        "once writes succeed again, edits are announced again"
    );
    drop(core);
    let mut core = open_seeded(dir.path(), 2).unwrap();
    assert_eq!(
        core.lesson(lesson).unwrap().lesson.body,
        "Kept A reference borrows.",
        "only the committed edit is in the data dir"
    );
    assert_eq!(
        core.list(&[DocKind::Course], Some(cohort), None)
            .unwrap()
            .len(),
        1,
        "the course whose write failed does not exist"
    );
}
