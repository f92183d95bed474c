//! Malformed documents and impossible edits are errors with the right `ModelError` variant
//! (and, for malformed fields, a path naming the field), never panics; rejected edits leave
//! the document unchanged.

mod common;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use cohort_model::{
    DocKind, JournalEntry, Lesson, Membership, ModelError, NewPost, Note, SCHEMA_VERSION, Splice,
    Thread, ThreadKind,
};
use common::{TestResult, item, lesson_with_body, obj_at, person, question_thread, read_as};
use proptest::prelude::*;
use rstest::rstest;

const ALL_KINDS: [DocKind; 9] = DocKind::ALL;

#[rstest]
fn an_empty_document_is_not_a_cohort_document(
    #[values(
        DocKind::Profile,
        DocKind::Charter,
        DocKind::Membership,
        DocKind::Course,
        DocKind::Lesson,
        DocKind::Thread,
        DocKind::Note,
        DocKind::JournalEntry,
        DocKind::Progress
    )]
    kind: DocKind,
) {
    let result = read_as(kind, &AutoCommit::new());
    assert!(
        matches!(result, Err(ModelError::NotCohort(_))),
        "a document without a header must be NotCohort when read as a {kind}, got {result:?}"
    );
}

#[test]
fn loading_a_saved_empty_document_is_not_a_cohort_document() {
    let result = cohort_model::load(&AutoCommit::new().save());
    assert!(
        matches!(result, Err(ModelError::NotCohort(_))),
        "valid Automerge bytes without a header must be NotCohort, got {:?}",
        result.map(|(_, h)| h)
    );
}

#[rstest]
#[case::next_version(SCHEMA_VERSION + 1)]
#[case::far_future(1_000_000)]
fn a_document_from_a_newer_schema_asks_for_an_update(
    #[case] version: u64,
    #[values(DocKind::Lesson, DocKind::Thread, DocKind::Progress)] kind: DocKind,
) -> TestResult {
    let mut doc = common::sample(kind)?;
    doc.put(ROOT, "schema", version)?;
    let result = read_as(kind, &doc);
    assert!(
        matches!(result, Err(ModelError::NewerSchema { found, supported })
            if found == version && supported == SCHEMA_VERSION),
        "schema {version} must be NewerSchema naming both versions, got {result:?}"
    );
    let loaded = cohort_model::load(&doc.save()).map(|(_, h)| h);
    assert!(
        matches!(loaded, Err(ModelError::NewerSchema { .. })),
        "load must refuse a newer schema too, got {loaded:?}"
    );
    Ok(())
}

#[rstest]
#[case::schema_zero("schema", ScalarValue::Uint(0))]
#[case::negative_schema("schema", ScalarValue::Int(-1))]
#[case::schema_as_text("schema", ScalarValue::Str("1".into()))]
#[case::unknown_kind("kind", ScalarValue::Str("spaceship".into()))]
fn a_header_that_makes_no_sense_is_not_a_cohort_document(
    #[case] key: &str,
    #[case] value: ScalarValue,
) -> TestResult {
    let mut doc = common::sample(DocKind::Note)?;
    doc.put(ROOT, key, value)?;
    let result = read_as(DocKind::Note, &doc);
    assert!(
        matches!(result, Err(ModelError::NotCohort(_))),
        "a header whose {key} is nonsense must be NotCohort, got {result:?}"
    );
    Ok(())
}

#[test]
fn reading_a_document_as_another_kind_names_both_kinds() -> TestResult {
    for found in ALL_KINDS {
        let doc = common::sample(found)?;
        for expected in ALL_KINDS.into_iter().filter(|k| *k != found) {
            let result = read_as(expected, &doc);
            assert!(
                matches!(result, Err(ModelError::WrongKind { expected: e, found: f })
                    if e == expected && f == found),
                "a {found} read as a {expected} must be WrongKind naming both, got {result:?}"
            );
        }
        assert!(
            read_as(found, &doc).is_ok(),
            "the {found} sample itself must read (else the other cases prove nothing)"
        );
    }
    Ok(())
}

/// What to write at a field to make it malformed.
#[derive(Debug)]
enum Bad {
    Scalar(ScalarValue),
    Object(ObjType),
}

fn int(i: i64) -> Bad {
    Bad::Scalar(ScalarValue::Int(i))
}

fn text(s: &str) -> Bad {
    Bad::Scalar(ScalarValue::Str(s.into()))
}

#[rstest]
#[case::title_as_number(DocKind::Lesson, "", "title", int(5), "title")]
#[case::lesson_course_id_not_hex(DocKind::Lesson, "", "course", text("not-an-id"), "course")]
#[case::checklist_as_map(
    DocKind::Lesson,
    "",
    "checklist",
    Bad::Object(ObjType::Map),
    "checklist"
)]
#[case::checklist_item_id_too_short(
    DocKind::Lesson,
    "checklist.0",
    "id",
    text("abc"),
    "checklist[0].id"
)]
#[case::question_choice_as_number(
    DocKind::Lesson,
    "questions.0.choices",
    "1",
    int(2),
    "questions[0].choices[1]"
)]
#[case::negative_attachment_size(DocKind::Lesson, "attachments.0", "size", int(-1), "attachments[0].size")]
#[case::attachment_size_as_text(
    DocKind::Lesson,
    "attachments.0",
    "size",
    text("big"),
    "attachments[0].size"
)]
#[case::created_at_as_text(DocKind::Lesson, "", "created_at", text("yesterday"), "created_at")]
#[case::posts_as_list(DocKind::Thread, "", "posts", Bad::Object(ObjType::List), "posts")]
#[case::post_as_text(
    DocKind::Thread,
    "posts",
    "a0a0a0a0a0a0a0a0a0a0a0a0a0a00001",
    text("hello"),
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001"
)]
#[case::post_author_as_number(
    DocKind::Thread,
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001",
    "author",
    int(7),
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001.author"
)]
#[case::reply_to_not_an_id(
    DocKind::Thread,
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001",
    "reply_to",
    text("zz"),
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001.reply_to"
)]
#[case::reaction_key_without_person(
    DocKind::Thread,
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001.reactions",
    "thumbs",
    Bad::Scalar(ScalarValue::Boolean(true)),
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001.reactions"
)]
#[case::reaction_as_text(
    DocKind::Thread,
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001.reactions",
    "k",
    text("yes"),
    "posts.a0a0a0a0a0a0a0a0a0a0a0a0a0a00001.reactions.k"
)]
#[case::unknown_thread_kind(DocKind::Thread, "", "thread_kind", text("rant"), "thread_kind")]
#[case::accepted_not_an_id(DocKind::Thread, "", "accepted", int(1), "accepted")]
#[case::norm_as_number(DocKind::Charter, "norms", "0", int(3), "norms[0]")]
#[case::milestone_done_as_text(
    DocKind::Charter,
    "milestones.0",
    "done",
    text("yes"),
    "milestones[0].done"
)]
#[case::session_time_as_list(
    DocKind::Charter,
    "schedule.0",
    "at",
    Bad::Object(ObjType::List),
    "schedule[0].at"
)]
#[case::module_lesson_not_an_id(
    DocKind::Course,
    "modules.0.lessons",
    "0",
    text("lesson-1"),
    "modules[0].lessons[0]"
)]
#[case::module_title_as_map(
    DocKind::Course,
    "modules.0",
    "title",
    Bad::Object(ObjType::Map),
    "modules[0].title"
)]
#[case::device_added_at_as_text(
    DocKind::Profile,
    "devices.0",
    "added_at",
    text("now"),
    "devices[0].added_at"
)]
#[case::person_not_an_id(DocKind::Profile, "", "person", text(""), "person")]
#[case::tick_key_without_item(
    DocKind::Progress,
    "ticks",
    "nokey",
    Bad::Scalar(ScalarValue::Boolean(true)),
    "ticks"
)]
#[case::answer_as_number(
    DocKind::Progress,
    "answers",
    "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a:0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
    int(4),
    "answers.0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a:0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
)]
#[case::tags_as_text(DocKind::Note, "", "tags", text("a,b"), "tags")]
#[case::journal_shared_as_not_an_id(
    DocKind::JournalEntry,
    "",
    "shared_as",
    text("copy"),
    "shared_as"
)]
fn a_field_of_the_wrong_type_is_malformed_and_names_its_path(
    #[case] kind: DocKind,
    #[case] object: &str,
    #[case] key: &str,
    #[case] bad: Bad,
    #[case] path: &str,
) -> TestResult {
    let mut doc = common::sample(kind)?;
    let obj = obj_at(&doc, object)?;
    let is_list = matches!(doc.object_type(&obj)?, ObjType::List);
    match (bad, key.parse::<usize>()) {
        (Bad::Scalar(v), Ok(index)) if is_list => {
            if index < doc.length(&obj) {
                doc.put(&obj, index, v)?;
            } else {
                doc.insert(&obj, index, v)?;
            }
        }
        (Bad::Object(t), Ok(index)) if is_list => {
            doc.put_object(&obj, index, t)?;
        }
        (Bad::Scalar(v), _) => doc.put(&obj, key, v)?,
        (Bad::Object(t), _) => {
            doc.put_object(&obj, key, t)?;
        }
    }
    let result = read_as(kind, &doc);
    match &result {
        Err(ModelError::Malformed { path: found, .. }) => assert_eq!(
            found, path,
            "the error must name the malformed field so a bug report says where to look"
        ),
        other => panic!("a malformed {kind} must read as Malformed at {path}, got {other:?}"),
    }
    Ok(())
}

#[rstest]
#[case::empty(&[])]
#[case::text(b"hello, world")]
#[case::magic_then_garbage(&[0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5])]
#[case::zeros(&[0; 64])]
fn garbage_bytes_are_not_a_cohort_document(#[case] bytes: &[u8]) {
    let result = cohort_model::load(bytes).map(|(_, h)| h);
    assert!(
        matches!(result, Err(ModelError::NotCohort(_))),
        "{bytes:?} must load as NotCohort, got {result:?}"
    );
}

#[test]
fn every_truncation_of_a_saved_document_is_not_a_cohort_document() -> TestResult {
    let bytes = common::sample(DocKind::Thread)?.save();
    for len in 0..bytes.len() {
        let result = cohort_model::load(&bytes[..len]).map(|(_, h)| h);
        assert!(
            matches!(result, Err(ModelError::NotCohort(_))),
            "the first {len} of {} bytes must be NotCohort, got {result:?}",
            bytes.len()
        );
    }
    assert!(
        cohort_model::load(&bytes).is_ok(),
        "the whole saved document must load (else the truncations prove nothing)"
    );
    Ok(())
}

/// Applies a splice to one kind of text body.
type Splicer = fn(&mut AutoCommit, &Splice) -> Result<(), ModelError>;
/// Reads that text body.
type Reader = fn(&AutoCommit) -> Result<String, ModelError>;
/// Makes a document whose body is "a😀b".
type Maker = fn() -> Result<AutoCommit, ModelError>;

fn lesson_doc() -> Result<AutoCommit, ModelError> {
    lesson_with_body("a😀b")
}

fn note_doc() -> Result<AutoCommit, ModelError> {
    let mut doc = common::new_doc(1);
    Note::create(
        &mut doc,
        &common::new_text(common::doc_id(33), "t", "a😀b", None),
    )?;
    Ok(doc)
}

fn journal_doc() -> Result<AutoCommit, ModelError> {
    let mut doc = common::new_doc(1);
    JournalEntry::create(
        &mut doc,
        &common::new_text(common::doc_id(34), "t", "a😀b", None),
    )?;
    Ok(doc)
}

fn post_doc() -> Result<AutoCommit, ModelError> {
    let mut doc = question_thread(ThreadKind::Question)?;
    Thread::set_post_body(&mut doc, item(0xA0, 1), "a😀b", common::at(3))?;
    Ok(doc)
}

#[rstest]
fn a_splice_outside_the_text_or_inside_a_surrogate_pair_is_rejected_and_changes_nothing(
    #[values(
        (lesson_doc as Maker,
         (|d, s| Lesson::splice_body(d, s)) as Splicer,
         (|d| Lesson::read(d).map(|l| l.body)) as Reader),
        (note_doc as Maker,
         (|d, s| Note::splice_body(d, s)) as Splicer,
         (|d| Note::read(d).map(|n| n.body)) as Reader),
        (journal_doc as Maker,
         (|d, s| JournalEntry::splice_body(d, s)) as Splicer,
         (|d| JournalEntry::read(d).map(|j| j.body)) as Reader),
        (post_doc as Maker,
         (|d, s| Thread::splice_post(d, item(0xA0, 1), s, common::at(9))) as Splicer,
         (|d| Thread::read_post(d, item(0xA0, 1)).map(|p| p.body)) as Reader),
    )]
    target: (Maker, Splicer, Reader),
    #[values(
        Splice::insert(5, "x"),
        Splice::insert(usize::MAX, "x"),
        Splice::delete(0, 5),
        Splice::delete(3, 2),
        Splice { pos: usize::MAX, delete: usize::MAX, insert: "x".into() },
        Splice::insert(2, "x"),
        Splice::delete(1, 1),
        Splice::delete(2, 2),
    )]
    splice: Splice,
) -> TestResult {
    let (make, apply, read) = target;
    let mut doc = make()?;
    let before = read(&doc)?;
    let heads = doc.get_heads();
    let result = apply(&mut doc, &splice);
    assert!(
        matches!(result, Err(ModelError::InvalidEdit(_))),
        "{splice:?} on {before:?} (4 UTF-16 units, a surrogate pair at 1..3) must be InvalidEdit, got {result:?}"
    );
    assert_eq!(
        read(&doc)?,
        before,
        "a rejected splice must not change the text"
    );
    assert_eq!(
        doc.get_heads(),
        heads,
        "a rejected splice must not record any change"
    );
    Ok(())
}

#[rstest]
#[case::idea(ThreadKind::Idea)]
#[case::how_to(ThreadKind::HowTo)]
fn only_a_question_can_have_an_accepted_answer(#[case] kind: ThreadKind) -> TestResult {
    let mut doc = question_thread(kind)?;
    let result = Thread::accept(&mut doc, Some(item(0xA0, 1)));
    assert!(
        matches!(result, Err(ModelError::InvalidEdit(_))),
        "accepting an answer on a {kind} thread must be InvalidEdit, got {result:?}"
    );
    assert_eq!(
        Thread::read(&doc)?.accepted,
        None,
        "the refused accept must not be recorded"
    );
    Ok(())
}

#[test]
fn a_question_cannot_accept_itself() -> TestResult {
    let mut doc = question_thread(ThreadKind::Question)?;
    let result = Thread::accept(&mut doc, Some(item(0xA0, 0)));
    assert!(
        matches!(result, Err(ModelError::InvalidEdit(_))),
        "the opening post is the question, not an answer, got {result:?}"
    );
    Ok(())
}

#[test]
fn a_reply_to_a_post_that_does_not_exist_is_not_found() -> TestResult {
    let mut doc = question_thread(ThreadKind::Question)?;
    let missing = item(0x99, 9);
    let result = Thread::reply(
        &mut doc,
        &NewPost {
            id: item(0xA0, 2),
            author: person(5),
            body: "me too",
            at: common::at(5),
            reply_to: Some(missing),
        },
    );
    assert!(
        matches!(&result, Err(ModelError::NotFound { what: "post", id }) if *id == missing.to_string()),
        "a reply to an unknown post must be NotFound naming it, got {result:?}"
    );
    assert_eq!(
        Thread::read(&doc)?.posts.len(),
        2,
        "the refused reply must not be added"
    );
    Ok(())
}

#[rstest]
#[case::empty("")]
#[case::non_ascii_first("é1@0101")]
#[case::emoji("😀")]
#[case::no_actor("12@")]
#[case::not_a_cursor("hello")]
#[case::unknown_actor("3@abababababababababababababababab")]
fn a_malformed_anchor_cursor_is_an_error_not_a_panic(
    #[case] cursor: &str,
    #[values(true, false)] at_start: bool,
) -> TestResult {
    let doc = lesson_with_body("Light becomes sugar.")?;
    let mut anchor = Lesson::anchor(&doc, 0, 5)?;
    if at_start {
        anchor.start = cursor.into();
    } else {
        anchor.end = cursor.into();
    }
    let result = Lesson::resolve_anchor(&doc, &anchor);
    assert!(
        matches!(
            result,
            Err(ModelError::Malformed { .. } | ModelError::Automerge(_))
        ),
        "an anchor whose cursor is {cursor:?} must be an error, got {result:?}"
    );
    Ok(())
}

/// Loads `bytes` and reads the result as every kind: any outcome but a panic is fine.
fn load_and_read_everything(bytes: &[u8]) {
    if let Ok((doc, _)) = cohort_model::load(bytes) {
        for kind in ALL_KINDS {
            let _ = read_as(kind, &doc);
        }
        let _ = cohort_model::read_header(&doc);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        load_and_read_everything(&bytes);
    }

    #[test]
    fn a_saved_document_with_one_byte_changed_never_panics(
        kind in prop::sample::select(&ALL_KINDS[..]),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = common::sample(kind)?.save();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        load_and_read_everything(&bytes);
    }
}

/// A peer can write anything into a membership log; one unreadable entry must not hide the
/// rest of the log (which would let anyone erase a cohort's membership), so it is set aside
/// with its reason instead.
#[rstest]
#[case::unknown_kind("entries.0", "entry_kind", text("coup"), "entries[0].entry_kind")]
#[case::field_as_number("entries.0.fields", "name", int(1), "entries[0].fields.name")]
#[case::signature_as_text("entries.0", "signature", text("sig"), "entries[0].signature")]
fn an_unreadable_membership_entry_is_set_aside_not_fatal(
    #[case] at: &str,
    #[case] key: &str,
    #[case] value: Bad,
    #[case] path: &str,
) -> TestResult {
    let mut doc = common::sample(DocKind::Membership)?;
    let before = Membership::read(&doc)?.entries.len();
    let obj = obj_at(&doc, at)?;
    match value {
        Bad::Scalar(v) => doc.put(&obj, key, v)?,
        Bad::Object(t) => {
            doc.put_object(&obj, key, t)?;
        }
    }
    let log = Membership::read(&doc)?;
    assert_eq!(
        log.entries.len(),
        before - 1,
        "only the bad entry is left out"
    );
    assert_eq!(log.unreadable.len(), 1, "and it is reported");
    assert_eq!(log.unreadable[0].path, path, "with the field that is wrong");
    Ok(())
}

/// Reading a note or journal entry without its body gives what reading it does, body
/// aside, and still refuses a body that is not text.
#[test]
fn reading_without_the_body_is_reading_it_less_the_body() -> TestResult {
    let mut note = note_doc()?;
    let full = Note::read(&note)?;
    assert!(!full.body.is_empty());
    let lean = Note::read_without_body(&note)?;
    assert_eq!(
        lean,
        Note {
            body: String::new(),
            ..full
        }
    );
    let journal = journal_doc()?;
    let full = JournalEntry::read(&journal)?;
    assert_eq!(
        JournalEntry::read_without_body(&journal)?,
        JournalEntry {
            body: String::new(),
            ..full
        }
    );

    note.put(ROOT, "body", "a plain string, not text")?;
    let _ = note.commit();
    assert!(matches!(
        Note::read_without_body(&note),
        Err(ModelError::Malformed { .. })
    ));
    Ok(())
}
