//! Use cases: what a learner does with courses, lessons, threads and progress, and how each
//! command turns away bad input with the right error code, without writing anything.

use std::error::Error;

use automerge::{ActorId, AutoCommit};
use cohort_core::{Core, CoreError};
use cohort_model::{
    AnchorState, DocId, DocKind, ItemId, NewPost, NewThread, PersonId, SpaceId, Splice, Thread,
    ThreadKind, utf16_len,
};
use cohort_testkit::{EPOCH, open, open_seeded, temp_dir};
use rstest::rstest;

type TestResult<T> = Result<T, Box<dyn Error>>;

/// A data dir with two cohorts, a course with a lesson in each, a question with an answer,
/// a private journal entry and its shared copy, and a thread written by someone else.
struct World {
    _dir: tempfile::TempDir,
    core: Core,
    cohort: SpaceId,
    course: DocId,
    lesson: DocId,
    other_lesson: DocId,
    question: DocId,
    first_post: ItemId,
    shared_copy: DocId,
    charter: DocId,
    peer_thread: DocId,
    peer_post: ItemId,
}

/// A question by another person, built as their device would build it.
fn foreign_thread(space: SpaceId, id: DocId, post: ItemId) -> TestResult<Vec<u8>> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(vec![0x55u8; 16]));
    Thread::create(
        &mut doc,
        &NewThread {
            id,
            space,
            kind: ThreadKind::Question,
            title: "Someone else's question",
            lesson: None,
            anchor: None,
            first_post: NewPost {
                id: post,
                author: PersonId::from_bytes([0x56; 16]),
                body: "Not yours to edit",
                at: EPOCH,
                reply_to: None,
            },
        },
    )?;
    Ok(doc.save())
}

fn world() -> TestResult<World> {
    let dir = temp_dir()?;
    let mut core = open(dir.path())?;
    let cohort = core.create_cohort("Evening Rust", "")?;
    let other = core.create_cohort("Morning Go", "")?;
    let course = core.create_course(cohort, "Ownership", "")?;
    let lesson = core.add_lesson(course, None, "Borrowing", "A reference borrows a value.")?;
    let other_course = core.create_course(other, "Goroutines", "")?;
    let other_lesson = core.add_lesson(other_course, None, "Channels", "Send and receive.")?;
    let question = core.new_thread(
        cohort,
        ThreadKind::Question,
        "Why borrow?",
        "Why not copy?",
        Some(lesson),
        None,
    )?;
    let first_post = core.resolve_post(question, "#1")?;
    core.reply(question, "Copies cost.", None)?;
    let entry = core.add_journal("Today", "Borrowing clicked.", &[])?;
    let shared_copy = core.share_journal(entry, cohort)?;
    let charter = core.list(&[DocKind::Charter], Some(cohort), None)?[0].id;
    let (peer_thread, peer_post) = (
        DocId::from_bytes([0x57; 16]),
        ItemId::from_bytes([0x58; 16]),
    );
    core.import_automerge(&foreign_thread(cohort, peer_thread, peer_post)?)?;
    Ok(World {
        _dir: dir,
        core,
        cohort,
        course,
        lesson,
        other_lesson,
        question,
        first_post,
        shared_copy,
        charter,
        peer_thread,
        peer_post,
    })
}

const UNKNOWN: DocId = DocId::from_bytes([0xee; 16]);
const UNKNOWN_ITEM: ItemId = ItemId::from_bytes([0xee; 16]);

type Op = fn(&mut World) -> cohort_core::Result<()>;

/// A lesson as an outline lists it: id, title, completed.
type Listed<'a> = (DocId, &'a str, bool);

#[rstest]
// Empty or blank names and texts.
#[case::cohort_without_a_name("invalid_input", |w: &mut World| w.core.create_cohort("  ", "x").map(drop))]
#[case::course_without_a_title("invalid_input", |w: &mut World| w.core.create_course(w.cohort, "", "x").map(drop))]
#[case::lesson_without_a_title("invalid_input", |w: &mut World| w.core.add_lesson(w.course, None, "\t", "x").map(drop))]
#[case::module_without_a_title("invalid_input", |w: &mut World| w.core.add_module(w.course, " ").map(drop))]
#[case::thread_without_a_title("invalid_input", |w: &mut World| w.core.new_thread(w.cohort, ThreadKind::Idea, "", "x", None, None).map(drop))]
#[case::empty_reply("invalid_input", |w: &mut World| w.core.reply(w.question, " \n ", None).map(drop))]
#[case::note_without_a_title("invalid_input", |w: &mut World| w.core.new_note(w.cohort, "", "x", &[], None).map(drop))]
#[case::journal_without_a_title("invalid_input", |w: &mut World| w.core.add_journal(" ", "x", &[]).map(drop))]
#[case::renaming_a_course_to_nothing("invalid_input", |w: &mut World| w.core.update_course(w.course, Some(""), None))]
// Unknown ids.
#[case::course_in_an_unknown_space("not_found", |w: &mut World| w.core.create_course(SpaceId::from_bytes([0xee; 16]), "C", "").map(drop))]
#[case::unknown_course("not_found", |w: &mut World| w.core.course(UNKNOWN).map(drop))]
#[case::unknown_lesson("not_found", |w: &mut World| w.core.lesson(UNKNOWN).map(drop))]
#[case::reply_to_an_unknown_thread("not_found", |w: &mut World| w.core.reply(UNKNOWN, "hi", None).map(drop))]
#[case::lesson_in_an_unknown_module("not_found", |w: &mut World| w.core.add_lesson(w.course, Some(UNKNOWN_ITEM), "L", "").map(drop))]
#[case::tick_an_unknown_item("not_found", |w: &mut World| w.core.tick(w.lesson, UNKNOWN_ITEM, true))]
#[case::answer_an_unknown_question("not_found", |w: &mut World| w.core.answer(w.lesson, UNKNOWN_ITEM, "42"))]
#[case::accept_an_unknown_post("not_found", |w: &mut World| w.core.accept(w.question, Some(UNKNOWN_ITEM)))]
#[case::reply_to_an_unknown_post("not_found", |w: &mut World| w.core.reply(w.question, "hi", Some(UNKNOWN_ITEM)).map(drop))]
#[case::delete_an_unknown_document("not_found", |w: &mut World| w.core.delete(UNKNOWN))]
#[case::unknown_full_id("not_found", |w: &mut World| w.core.resolve(&UNKNOWN.to_string(), None).map(drop))]
#[case::unknown_id_prefix("not_found", |w: &mut World| w.core.resolve("ffff", None).map(drop))]
#[case::unknown_post_position("not_found", |w: &mut World| w.core.resolve_post(w.question, "#9").map(drop))]
// Id prefixes.
#[case::prefix_shorter_than_four("invalid_input", |w: &mut World| w.core.resolve("000", None).map(drop))]
#[case::prefix_not_hex("invalid_input", |w: &mut World| w.core.resolve("zzzzzz", None).map(drop))]
#[case::prefix_of_many_documents("ambiguous_id", |w: &mut World| w.core.resolve("0000", None).map(drop))]
// Wrong kinds and relations.
#[case::course_view_of_a_lesson("invalid_input", |w: &mut World| { let l = w.lesson; w.core.course(l).map(drop) })]
#[case::resolve_a_lesson_as_a_thread("invalid_input", |w: &mut World| w.core.resolve(&w.lesson.to_string(), Some(DocKind::Thread)).map(drop))]
#[case::thread_about_a_lesson_in_another_space("invalid_input", |w: &mut World| w.core.new_thread(w.cohort, ThreadKind::Idea, "T", "b", Some(w.other_lesson), None).map(drop))]
#[case::anchored_thread_about_a_lesson_in_another_space("invalid_input", |w: &mut World| w.core.new_thread(w.cohort, ThreadKind::Idea, "T", "b", Some(w.other_lesson), Some((0, 4))).map(drop))]
#[case::anchor_without_a_lesson("invalid_input", |w: &mut World| w.core.new_thread(w.cohort, ThreadKind::Idea, "T", "b", None, Some((0, 4))).map(drop))]
#[case::anchor_outside_the_body("invalid_edit", |w: &mut World| w.core.new_thread(w.cohort, ThreadKind::Idea, "T", "b", Some(w.lesson), Some((5, 500))).map(drop))]
#[case::accept_the_question_itself("invalid_edit", |w: &mut World| w.core.accept(w.question, Some(w.first_post)))]
#[case::edit_someone_elses_post("invalid_input", |w: &mut World| w.core.edit_post(w.peer_thread, w.peer_post, "mine now"))]
#[case::share_a_cohort_entry("invalid_input", |w: &mut World| w.core.share_journal(w.shared_copy, w.cohort).map(drop))]
#[case::share_into_the_personal_space("invalid_input", |w: &mut World| { let copy = w.shared_copy; let entry = w.core.journal_entry(copy)?.shared_from.ok_or_else(|| CoreError::InvalidInput("no origin".into()))?; let personal = w.core.personal_space(); w.core.share_journal(entry, personal).map(drop) })]
#[case::delete_a_charter("invalid_input", |w: &mut World| w.core.delete(w.charter))]
#[case::splice_past_the_end("invalid_edit", |w: &mut World| w.core.splice_lesson(w.lesson, &[Splice::delete(3, 1_000)]))]
#[case::empty_reaction("invalid_edit", |w: &mut World| w.core.react(w.question, w.first_post, " ", true))]
fn bad_input_is_refused_with_its_code_and_writes_nothing(#[case] code: &str, #[case] op: Op) {
    let mut w = world().unwrap();
    let before = w.core.stats().unwrap();
    let mut events = w.core.subscribe();

    let result = op(&mut w);
    let error = result.expect_err("bad input must be refused");
    assert_eq!(
        error.code(),
        code,
        "the caller branches on the code, so it must be exact ({error})"
    );
    assert!(
        !error.to_string().is_empty(),
        "the message tells the person what is wrong"
    );
    assert_eq!(
        w.core.stats().unwrap(),
        before,
        "a refused command must not write anything"
    );
    assert!(
        events.try_recv().is_err(),
        "a refused command announces nothing"
    );
}

#[test]
fn a_course_outline_lists_modules_and_lessons_in_order_with_completion() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();

    let course = core.create_course(cohort, "Ownership", "").unwrap();
    let first = core.add_lesson(course, None, "Moves", "").unwrap();
    let outline = core.course(course).unwrap().outline;
    assert_eq!(
        outline.iter().map(|m| m.title.as_str()).collect::<Vec<_>>(),
        ["Module 1"],
        "a lesson added to a course without modules gets a first module"
    );

    let advanced = core.add_module(course, "Advanced").unwrap();
    let second = core.add_lesson(course, None, "Lifetimes", "").unwrap();
    let third = core
        .add_lesson(course, Some(outline[0].id), "Borrowing", "")
        .unwrap();
    let fourth = core
        .add_lesson(course, Some(advanced), "Pinning", "")
        .unwrap();
    core.complete_lesson(third, true).unwrap();
    core.complete_lesson(fourth, true).unwrap();
    core.complete_lesson(fourth, false).unwrap();

    let view = core.course(course).unwrap();
    let outline: Vec<(&str, Vec<Listed<'_>>)> = view
        .outline
        .iter()
        .map(|m| {
            (
                m.title.as_str(),
                m.lessons
                    .iter()
                    .map(|l| (l.id, l.title.as_str(), l.completed))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        outline,
        vec![
            (
                "Module 1",
                vec![(first, "Moves", false), (third, "Borrowing", true)]
            ),
            (
                "Advanced",
                vec![(second, "Lifetimes", false), (fourth, "Pinning", false)]
            ),
        ],
        "lessons go to the last module unless one is named, in the order added; \
         completion is shown per lesson and can be undone"
    );
}

#[test]
fn ticks_answers_and_completion_show_in_the_lessons_progress() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();
    let course = core.create_course(cohort, "Ownership", "").unwrap();
    let lesson = core.add_lesson(course, None, "Borrowing", "").unwrap();
    let other = core.add_lesson(course, None, "Moves", "").unwrap();
    let read = core.add_checklist_item(lesson, "Read the chapter").unwrap();
    let try_it = core.add_checklist_item(lesson, "Try the exercise").unwrap();
    let q = core
        .add_question(lesson, "How many &mut at once?", "one", &[])
        .unwrap();

    assert_eq!(
        core.lesson(lesson).unwrap().progress,
        Default::default(),
        "an untouched lesson has empty progress"
    );
    core.tick(lesson, read, true).unwrap();
    core.tick(lesson, try_it, true).unwrap();
    core.tick(lesson, try_it, false).unwrap();
    core.answer(lesson, q, "one").unwrap();
    core.complete_lesson(lesson, true).unwrap();
    assert_eq!(
        core.resolve_checklist_item(lesson, "#2").unwrap(),
        try_it,
        "checklist items are found by position"
    );

    let progress = core.lesson(lesson).unwrap().progress;
    assert_eq!(
        progress.checklist.get(&read),
        Some(&true),
        "ticked stays ticked"
    );
    assert_ne!(
        progress.checklist.get(&try_it),
        Some(&true),
        "an unticked item is not done"
    );
    assert_eq!(progress.answers.get(&q).map(String::as_str), Some("one"));
    assert_eq!(
        progress.completed_at,
        Some(EPOCH),
        "completion records when (the test clock)"
    );
    assert_eq!(
        core.lesson(other).unwrap().progress,
        Default::default(),
        "progress is per lesson"
    );

    core.complete_lesson(lesson, false).unwrap();
    assert_eq!(core.lesson(lesson).unwrap().progress.completed_at, None);
}

#[test]
fn an_anchored_thread_follows_its_passage_until_the_passage_is_deleted() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();
    let course = core.create_course(cohort, "Ownership", "").unwrap();
    let body = "Values move. A reference borrows a value.";
    let lesson = core.add_lesson(course, None, "Borrowing", body).unwrap();
    let start = utf16_len("Values move. A ");
    let end = start + utf16_len("reference");
    let thread = core
        .new_thread(
            cohort,
            ThreadKind::Question,
            "What is a reference?",
            "This word.",
            Some(lesson),
            Some((start, end)),
        )
        .unwrap();
    assert_eq!(
        core.thread(thread).unwrap().anchor,
        Some(AnchorState::Attached {
            start,
            end,
            text: "reference".into()
        })
    );
    assert_eq!(
        core.lesson(lesson).unwrap().threads[0].id,
        thread,
        "the lesson lists the thread about it"
    );

    let intro = "Intro 🦀: ";
    core.splice_lesson(lesson, &[Splice::insert(0, intro)])
        .unwrap();
    let shift = utf16_len(intro);
    assert_eq!(
        core.thread(thread).unwrap().anchor,
        Some(AnchorState::Attached {
            start: start + shift,
            end: end + shift,
            text: "reference".into()
        }),
        "text inserted before the passage moves the anchor with it"
    );

    core.splice_lesson(lesson, &[Splice::delete(start + shift, end - start)])
        .unwrap();
    assert_eq!(
        core.thread(thread).unwrap().anchor,
        Some(AnchorState::Detached),
        "once the passage is deleted the thread is detached"
    );
    assert_eq!(
        core.thread(thread).unwrap().thread.anchor.map(|a| a.quote),
        Some("reference".to_owned()),
        "a detached thread keeps the quote it was about"
    );
}

#[test]
fn history_has_one_entry_per_change_naming_its_author() {
    let dir = temp_dir().unwrap();
    let mut core = open(dir.path()).unwrap();
    let cohort = core.create_cohort("Evening Rust", "").unwrap();
    let course = core.create_course(cohort, "Ownership", "").unwrap();
    core.add_module(course, "Basics").unwrap();
    core.add_lesson(course, None, "Moves", "").unwrap();
    core.update_course(course, Some("Ownership & borrowing"), None)
        .unwrap();

    let history = core.history(course).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| h.message.as_str())
            .collect::<Vec<_>>(),
        ["create course", "add module", "add lesson", "edit course"],
        "one entry per change, oldest first, saying what it did"
    );
    let me = core.me().unwrap();
    for h in &history {
        assert_eq!(
            h.author.as_deref(),
            Some("Test Learner"),
            "the author is named from the profile"
        );
        assert_eq!(
            h.actor, me.device,
            "the change came from this device (its key is its actor id)"
        );
        assert_eq!(h.at, EPOCH, "the time is the test clock's");
        assert!(h.ops > 0, "every change does something");
    }

    core.set_display_name("Ada").unwrap();
    assert!(
        core.history(course)
            .unwrap()
            .iter()
            .all(|h| h.author.as_deref() == Some("Ada")),
        "the author's current display name is shown"
    );
    drop(core);
    let mut core = open_seeded(dir.path(), 2).unwrap();
    assert_eq!(
        core.history(course).unwrap().len(),
        4,
        "history survives a restart"
    );
}

#[test]
fn a_thread_shared_between_two_data_dirs_merges_concurrent_replies_both_ways() {
    let (dir_a, dir_b) = (temp_dir().unwrap(), temp_dir().unwrap());
    let mut alice = open_seeded(dir_a.path(), 1).unwrap();
    let mut bob = open_seeded(dir_b.path(), 2).unwrap();
    bob.set_display_name("Bob").unwrap();

    let cohort = alice.create_cohort("Evening Rust", "").unwrap();
    let thread = alice
        .new_thread(
            cohort,
            ThreadKind::Question,
            "Why borrow?",
            "Why?",
            None,
            None,
        )
        .unwrap();
    // Bob receives the cohort and the thread.
    let files: Vec<Vec<u8>> = alice
        .list(
            &[DocKind::Charter, DocKind::Membership, DocKind::Thread],
            Some(cohort),
            None,
        )
        .unwrap()
        .iter()
        .map(|d| alice.export_automerge(d.id))
        .collect::<cohort_core::Result<_>>()
        .unwrap();
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    bob.import_batch(&refs).unwrap();
    assert_eq!(bob.charter(cohort).unwrap().name, "Evening Rust");

    // Both reply while apart.
    let from_alice = alice.reply(thread, "Alice: copies cost.", None).unwrap();
    let from_bob = bob
        .reply(thread, "Bob: moves lose the value.", None)
        .unwrap();

    let to_bob = alice.export_automerge(thread).unwrap();
    let to_alice = bob.export_automerge(thread).unwrap();
    assert_eq!(bob.import_automerge(&to_bob).unwrap(), thread);
    assert_eq!(alice.import_automerge(&to_alice).unwrap(), thread);

    for (who, core) in [("Alice", &mut alice), ("Bob", &mut bob)] {
        let posts: Vec<ItemId> = core
            .thread(thread)
            .unwrap()
            .thread
            .posts
            .iter()
            .map(|p| p.id)
            .collect();
        assert!(
            posts.contains(&from_alice) && posts.contains(&from_bob) && posts.len() == 3,
            "{who} must hold the question and both replies, got {posts:?}"
        );
        let hits = core.search("moves lose", None, None, 10).unwrap();
        assert_eq!(
            hits.iter().map(|h| h.part.clone()).collect::<Vec<_>>(),
            [from_bob.to_string()],
            "{who} can search the merged reply"
        );
    }
    assert_eq!(
        alice.export_json(thread).unwrap(),
        bob.export_json(thread).unwrap(),
        "after exchanging changes both copies are the same"
    );
    // Once Bob's profile arrives, Alice's history names him.
    let bob_profile = bob.list(&[DocKind::Profile], None, None).unwrap()[0].id;
    let profile_bytes = bob.export_automerge(bob_profile).unwrap();
    alice.import_automerge(&profile_bytes).unwrap();
    let authors: Vec<Option<String>> = alice
        .history(thread)
        .unwrap()
        .into_iter()
        .map(|h| h.author)
        .collect();
    assert!(
        authors.contains(&Some("Bob".into())) && authors.contains(&Some("Test Learner".into())),
        "history names each author: {authors:?}"
    );
}

#[test]
fn a_new_cohort_has_a_signed_log_that_makes_its_creator_the_facilitator() {
    let dir = cohort_testkit::temp_dir().expect("temp dir");
    let mut core = cohort_testkit::open(dir.path()).expect("open");
    let space = core.create_cohort("Signed", "").expect("create cohort");
    let members = core.members(space).expect("members");
    assert_eq!(members.len(), 1, "the creator is the only member");
    assert_eq!(
        members[0].role,
        cohort_model::Role::Facilitator,
        "the creator runs the cohort"
    );
    assert!(members[0].you && members[0].devices == 1);
    assert_eq!(members[0].name, "Test Learner", "named from the profile");
}

#[test]
fn the_device_key_is_created_once_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = cohort_testkit::temp_dir().expect("temp dir");
    let first = {
        let mut core = cohort_testkit::open(dir.path()).expect("open");
        core.me().expect("me").device
    };
    let key = dir.path().join(cohort_core::DEVICE_KEY_FILE);
    let mode = std::fs::metadata(&key)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "nobody but the owner may read the device key"
    );
    let mut again = cohort_testkit::open_seeded(dir.path(), 9).expect("reopen");
    assert_eq!(
        again.me().expect("me").device,
        first,
        "reopening keeps the device's identity"
    );
    drop(again);
    std::fs::write(&key, b"short").expect("damage the key");
    let err = cohort_testkit::open_seeded(dir.path(), 10).expect_err("a damaged key is refused");
    assert_eq!(err.code(), "data_dir_unusable", "{err}");
}
