//! Saving and loading never changes a document: for every document type, a document created
//! and edited in many ways reads the same after `save()` + `cohort_model::load()` (and after a
//! save followed by an incremental chunk) as it did before.

mod common;

use std::fmt::Debug;

use automerge::AutoCommit;
use cohort_model::{
    Attachment, Charter, ChecklistItem, Course, DocKind, Entry, EntryKind, JournalEntry, Lesson,
    Membership, Milestone, ModelError, NewCourse, NewPost, Note, Profile, Progress, Question,
    Session, Splice, Thread, ThreadKind, set_deleted,
};
use common::{
    TestResult, any_text, at, doc_id, item, lesson_with_body, new_doc, new_text, person,
    question_thread, space, utf16_boundaries,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Saves `doc` whole after the first `split` edits and incrementally after the rest, loads
/// both the full save and the save + incremental chunk, and checks that every copy reads as
/// the original does.
fn check_round_trip<T, E>(
    doc: &mut AutoCommit,
    edits: &[E],
    split: Index,
    mut apply: impl FnMut(&mut AutoCommit, &E) -> Result<(), ModelError>,
    read: fn(&AutoCommit) -> Result<T, ModelError>,
) -> Result<(), TestCaseError>
where
    T: PartialEq + Debug,
{
    let split = split.index(edits.len() + 1);
    for edit in &edits[..split] {
        apply(doc, edit)?;
    }
    let mut chunks = doc.save();
    for edit in &edits[split..] {
        apply(doc, edit)?;
    }
    chunks.extend(doc.save_incremental());
    let before = read(doc)?;
    let header_before = cohort_model::read_header(doc)?;

    let (whole, header) = cohort_model::load(&doc.save())?;
    prop_assert_eq!(
        &header,
        &header_before,
        "load must report the header the document was saved with"
    );
    prop_assert_eq!(
        &read(&whole)?,
        &before,
        "a saved and reloaded document must read exactly as before saving"
    );
    let (incremental, _) = cohort_model::load(&chunks)?;
    prop_assert_eq!(
        &read(&incremental)?,
        &before,
        "a save followed by an incremental chunk must load to the same document"
    );
    Ok(())
}

/// A name the profile and charter accept: non-blank and at most 80 characters.
fn name() -> impl Strategy<Value = String> {
    any_text().prop_map(|t| format!("N{}", t.chars().take(40).collect::<String>()))
}

/// A splice of `text` at valid UTF-16 character boundaries chosen by two indexes.
fn splice_in(text: &str, pos: Index, len: Index, insert: &str) -> Splice {
    let bounds = utf16_boundaries(text);
    let i = pos.index(bounds.len());
    let j = i + len.index(bounds.len() - i);
    Splice {
        pos: bounds[i],
        delete: bounds[j] - bounds[i],
        insert: insert.to_owned(),
    }
}

/// Applies `splice` to a plain string, the model of what the document's text must become.
fn splice_model(text: &str, splice: &Splice) -> String {
    let byte_at = |unit: usize| {
        let mut units = 0;
        for (byte, c) in text.char_indices() {
            if units == unit {
                return byte;
            }
            units += c.len_utf16();
        }
        text.len()
    };
    let (start, end) = (byte_at(splice.pos), byte_at(splice.pos + splice.delete));
    format!("{}{}{}", &text[..start], splice.insert, &text[end..])
}

#[derive(Debug, Clone)]
enum ProfileEdit {
    Rename(String),
    AddDevice(String, String, i64),
    Delete(bool),
    Cohort(u8, String),
}

fn profile_edit() -> impl Strategy<Value = ProfileEdit> {
    prop_oneof![
        name().prop_map(ProfileEdit::Rename),
        ("[0-9a-f]{2,8}", any_text(), 0..1000i64)
            .prop_map(|(a, n, t)| ProfileEdit::AddDevice(a, n, t)),
        any::<bool>().prop_map(ProfileEdit::Delete),
        (0..4u8, any_text()).prop_map(|(s, n)| ProfileEdit::Cohort(s, n)),
    ]
}

#[derive(Debug, Clone)]
enum CharterEdit {
    Rename(String),
    Purpose(String),
    AddNorm(String),
    RemoveNorm(Index),
    AddSession(String, i64),
    AddMilestone(String, Option<i64>, bool),
    MilestoneDone(Index, bool),
}

fn charter_edit() -> impl Strategy<Value = CharterEdit> {
    prop_oneof![
        name().prop_map(CharterEdit::Rename),
        any_text().prop_map(CharterEdit::Purpose),
        any_text().prop_map(CharterEdit::AddNorm),
        any::<Index>().prop_map(CharterEdit::RemoveNorm),
        (any_text(), -1000..1000i64).prop_map(|(t, s)| CharterEdit::AddSession(t, s)),
        (any_text(), proptest::option::of(0..1000i64), any::<bool>())
            .prop_map(|(t, d, done)| CharterEdit::AddMilestone(t, d, done)),
        (any::<Index>(), any::<bool>()).prop_map(|(i, d)| CharterEdit::MilestoneDone(i, d)),
    ]
}

#[derive(Debug, Clone)]
enum CourseEdit {
    Title(String),
    Summary(String),
    AddModule(String, Option<Index>),
    RenameModule(Index, String),
    RemoveModule(Index),
    PlaceLesson(Index, u8, Option<Index>),
    RemoveLesson(u8),
}

fn course_edit() -> impl Strategy<Value = CourseEdit> {
    prop_oneof![
        any_text().prop_map(CourseEdit::Title),
        any_text().prop_map(CourseEdit::Summary),
        (any_text(), any::<Option<Index>>()).prop_map(|(t, i)| CourseEdit::AddModule(t, i)),
        (any::<Index>(), any_text()).prop_map(|(i, t)| CourseEdit::RenameModule(i, t)),
        any::<Index>().prop_map(CourseEdit::RemoveModule),
        (any::<Index>(), 0..6u8, any::<Option<Index>>())
            .prop_map(|(m, l, i)| CourseEdit::PlaceLesson(m, l, i)),
        (0..6u8).prop_map(CourseEdit::RemoveLesson),
    ]
}

#[derive(Debug, Clone)]
enum LessonEdit {
    Title(String),
    Splice(Index, Index, String),
    SetBody(String),
    AddCheck(String),
    RemoveCheck(Index),
    AddQuestion(String, String, Vec<String>),
    RemoveQuestion(Index),
    Attach(String, String, u32),
    Delete(bool),
}

fn lesson_edit() -> impl Strategy<Value = LessonEdit> {
    prop_oneof![
        any_text().prop_map(LessonEdit::Title),
        (any::<Index>(), any::<Index>(), any_text())
            .prop_map(|(p, l, t)| LessonEdit::Splice(p, l, t)),
        any_text().prop_map(LessonEdit::SetBody),
        any_text().prop_map(LessonEdit::AddCheck),
        any::<Index>().prop_map(LessonEdit::RemoveCheck),
        (
            any_text(),
            any_text(),
            prop::collection::vec(any_text(), 0..3)
        )
            .prop_map(|(p, a, c)| LessonEdit::AddQuestion(p, a, c)),
        any::<Index>().prop_map(LessonEdit::RemoveQuestion),
        (any_text(), "[a-z]+/[a-z]+", any::<u32>())
            .prop_map(|(n, m, s)| LessonEdit::Attach(n, m, s)),
        any::<bool>().prop_map(LessonEdit::Delete),
    ]
}

#[derive(Debug, Clone)]
enum ThreadEdit {
    Title(String),
    Reply(String, Option<Index>),
    SplicePost(Index, Index, Index, String),
    SetPostBody(Index, String),
    DeletePost(Index),
    React(Index, &'static str, u8, bool),
    Accept(Option<Index>),
}

fn thread_edit() -> impl Strategy<Value = ThreadEdit> {
    prop_oneof![
        any_text().prop_map(ThreadEdit::Title),
        (any_text(), any::<Option<Index>>()).prop_map(|(b, r)| ThreadEdit::Reply(b, r)),
        (any::<Index>(), any::<Index>(), any::<Index>(), any_text())
            .prop_map(|(p, s, l, t)| ThreadEdit::SplicePost(p, s, l, t)),
        (any::<Index>(), any_text()).prop_map(|(p, t)| ThreadEdit::SetPostBody(p, t)),
        any::<Index>().prop_map(ThreadEdit::DeletePost),
        (
            any::<Index>(),
            prop::sample::select(&["👍", "🎉", "❤️", "ok", "e\u{301}"][..]),
            0..4u8,
            any::<bool>()
        )
            .prop_map(|(p, r, who, on)| ThreadEdit::React(p, r, who, on)),
        any::<Option<Index>>().prop_map(ThreadEdit::Accept),
    ]
}

#[derive(Debug, Clone)]
enum TextEdit {
    Title(String),
    Splice(Index, Index, String),
    SetBody(String),
    Tags(Vec<String>),
    SharedAs(u8),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        any_text().prop_map(TextEdit::Title),
        (any::<Index>(), any::<Index>(), any_text())
            .prop_map(|(p, l, t)| TextEdit::Splice(p, l, t)),
        any_text().prop_map(TextEdit::SetBody),
        prop::collection::vec(any_text(), 0..4).prop_map(TextEdit::Tags),
        (100..110u8).prop_map(TextEdit::SharedAs),
    ]
}

#[derive(Debug, Clone)]
enum ProgressEdit {
    Complete(u8, Option<i64>),
    Tick(u8, u16, bool),
    Answer(u8, u16, String),
}

fn progress_edit() -> impl Strategy<Value = ProgressEdit> {
    prop_oneof![
        (0..4u8, proptest::option::of(0..1000i64)).prop_map(|(l, t)| ProgressEdit::Complete(l, t)),
        (0..4u8, 0..4u16, any::<bool>()).prop_map(|(l, i, d)| ProgressEdit::Tick(l, i, d)),
        (0..4u8, 0..4u16, any_text()).prop_map(|(l, q, a)| ProgressEdit::Answer(l, q, a)),
    ]
}

/// The number of items in the list at `key` of the root.
fn list_len(doc: &AutoCommit, key: &str) -> usize {
    common::obj_at(doc, key).map_or(0, |list| automerge::ReadDoc::length(doc, &list))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn a_profile_reads_the_same_after_saving_and_loading(
        first in name(),
        edits in prop::collection::vec(profile_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = new_doc(1);
        Profile::create(&mut doc, doc_id(30), space(1), person(3), &first)?;
        check_round_trip(&mut doc, &edits, split, |doc, edit| match edit {
            ProfileEdit::Rename(n) => Profile::set_display_name(doc, n),
            ProfileEdit::AddDevice(a, n, t) => Profile::add_device(doc, a, n, at(*t)),
            ProfileEdit::Delete(d) => set_deleted(doc, *d),
            ProfileEdit::Cohort(s, n) => Profile::set_cohort(doc, space(*s), n),
        }, Profile::read)?;
    }

    #[test]
    fn a_charter_reads_the_same_after_saving_and_loading(
        first in name(),
        purpose in any_text(),
        edits in prop::collection::vec(charter_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = new_doc(1);
        Charter::create(&mut doc, doc_id(31), space(2), &first, &purpose, person(3), at(0))?;
        let mut next = 0u16;
        check_round_trip(&mut doc, &edits, split, |doc, edit| {
            next += 1;
            match edit {
                CharterEdit::Rename(n) => Charter::set_name(doc, n),
                CharterEdit::Purpose(p) => Charter::set_purpose(doc, p),
                CharterEdit::AddNorm(n) => Charter::add_norm(doc, n),
                CharterEdit::RemoveNorm(i) => match list_len(doc, "norms") {
                    0 => Ok(()),
                    len => Charter::remove_norm(doc, i.index(len)),
                },
                CharterEdit::AddSession(t, s) => Charter::add_session(
                    doc,
                    &Session { id: item(0xC0, next), title: t.clone(), at: at(*s) },
                ),
                CharterEdit::AddMilestone(t, due, done) => Charter::add_milestone(
                    doc,
                    &Milestone { id: item(0xC1, next), title: t.clone(), due: due.map(at), done: *done },
                ),
                CharterEdit::MilestoneDone(i, done) => {
                    let milestones = Charter::read(&*doc)?.milestones;
                    match milestones.len() {
                        0 => Ok(()),
                        len => Charter::set_milestone_done(doc, milestones[i.index(len)].id, *done),
                    }
                }
            }
        }, Charter::read)?;
    }

    #[test]
    fn a_membership_log_reads_the_same_after_saving_and_loading(
        entries in prop::collection::vec(
            (0..8usize, any_text(), -1000..1000i64,
             prop::collection::btree_map(any_text(), any_text(), 0..3),
             prop::collection::vec(any::<u8>(), 0..16)),
            0..6),
        split in any::<Index>(),
    ) {
        const KINDS: [EntryKind; 8] = [
            EntryKind::Create, EntryKind::AddMember, EntryKind::ChangeRole,
            EntryKind::RemoveMember, EntryKind::LinkDevice, EntryKind::UnlinkDevice,
            EntryKind::InviteIssued, EntryKind::InviteRedeemed,
        ];
        let mut doc = new_doc(1);
        Membership::create(&mut doc, doc_id(32), space(2))?;
        let mut next = 0u16;
        check_round_trip(&mut doc, &entries, split, |doc, (kind, device, t, fields, sig)| {
            next += 1;
            Membership::append(doc, &Entry {
                id: item(0xD0, next),
                kind: KINDS[*kind],
                author_device: device.clone(),
                at: at(*t),
                fields: fields.clone(),
                signature: sig.clone(),
            })
        }, Membership::read)?;
    }

    #[test]
    fn a_course_reads_the_same_after_saving_and_loading(
        title in any_text(),
        summary in any_text(),
        edits in prop::collection::vec(course_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = new_doc(1);
        Course::create(&mut doc, &NewCourse {
            id: doc_id(11), space: space(2), title: &title, summary: &summary,
            created_by: person(3), created_at: at(0),
        })?;
        let mut next = 0u16;
        check_round_trip(&mut doc, &edits, split, |doc, edit| {
            next += 1;
            let modules = Course::read(&*doc)?.modules;
            let pick = |i: &Index| (!modules.is_empty()).then(|| modules[i.index(modules.len())].id);
            match edit {
                CourseEdit::Title(t) => Course::set_title(doc, t),
                CourseEdit::Summary(s) => Course::set_summary(doc, s),
                CourseEdit::AddModule(t, i) => Course::add_module(
                    doc, item(0xE0, next), t, i.map(|i| i.index(modules.len() + 1)),
                ),
                CourseEdit::RenameModule(i, t) => match pick(i) {
                    Some(m) => Course::rename_module(doc, m, t),
                    None => Ok(()),
                },
                CourseEdit::RemoveModule(i) => match pick(i) {
                    Some(m) => Course::remove_module(doc, m),
                    None => Ok(()),
                },
                CourseEdit::PlaceLesson(i, lesson, index) => match pick(i) {
                    Some(m) => Course::place_lesson(
                        doc, m, doc_id(50 + lesson), index.map(|i| i.index(8)),
                    ),
                    None => Ok(()),
                },
                CourseEdit::RemoveLesson(lesson) => {
                    Course::remove_lesson(doc, doc_id(50 + lesson)).map(drop)
                }
            }
        }, Course::read)?;
    }

    #[test]
    fn a_lesson_reads_the_same_after_saving_and_loading(
        body in any_text(),
        edits in prop::collection::vec(lesson_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = lesson_with_body(&body)?;
        let mut expected_body = body.clone();
        let mut next = 0u16;
        check_round_trip(&mut doc, &edits, split, |doc, edit| {
            next += 1;
            let lesson = Lesson::read(&*doc)?;
            match edit {
                LessonEdit::Title(t) => Lesson::set_title(doc, t),
                LessonEdit::Splice(p, l, t) => {
                    let splice = splice_in(&lesson.body, *p, *l, t);
                    expected_body = splice_model(&expected_body, &splice);
                    Lesson::splice_body(doc, &splice)
                }
                LessonEdit::SetBody(b) => {
                    expected_body.clone_from(b);
                    Lesson::set_body(doc, b)
                }
                LessonEdit::AddCheck(t) => Lesson::add_checklist_item(
                    doc, &ChecklistItem { id: item(0xB0, next), text: t.clone() },
                ),
                LessonEdit::RemoveCheck(i) => match lesson.checklist.len() {
                    0 => Ok(()),
                    len => Lesson::remove_checklist_item(doc, lesson.checklist[i.index(len)].id),
                },
                LessonEdit::AddQuestion(p, a, c) => Lesson::add_question(doc, &Question {
                    id: item(0xB1, next), prompt: p.clone(), answer: a.clone(), choices: c.clone(),
                }),
                LessonEdit::RemoveQuestion(i) => match lesson.questions.len() {
                    0 => Ok(()),
                    len => Lesson::remove_question(doc, lesson.questions[i.index(len)].id),
                },
                LessonEdit::Attach(n, m, s) => Lesson::add_attachment(doc, &Attachment {
                    hash: "0f".repeat(32), name: n.clone(), mime: m.clone(), size: u64::from(*s),
                }),
                LessonEdit::Delete(d) => set_deleted(doc, *d),
            }
        }, Lesson::read)?;
        prop_assert_eq!(
            Lesson::read(&doc)?.body,
            expected_body,
            "the body must be exactly what the splices (in UTF-16 units) and replacements make of it"
        );
    }

    #[test]
    fn a_thread_reads_the_same_after_saving_and_loading(
        kind in prop::sample::select(&[ThreadKind::Question, ThreadKind::Idea, ThreadKind::HowTo][..]),
        edits in prop::collection::vec(thread_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = question_thread(kind)?;
        let mut next = 10u16;
        check_round_trip(&mut doc, &edits, split, |doc, edit| {
            next += 1;
            let posts = Thread::read(&*doc)?.posts;
            let pick = |i: &Index| posts[i.index(posts.len())].clone();
            match edit {
                ThreadEdit::Title(t) => Thread::set_title(doc, t),
                ThreadEdit::Reply(b, to) => Thread::reply(doc, &NewPost {
                    id: item(0xA0, next), author: person(4), body: b, at: at(i64::from(next)),
                    reply_to: to.as_ref().map(|i| pick(i).id),
                }),
                ThreadEdit::SplicePost(p, s, l, t) => {
                    let post = pick(p);
                    Thread::splice_post(doc, post.id, &splice_in(&post.body, *s, *l, t), at(i64::from(next)))
                }
                ThreadEdit::SetPostBody(p, t) => Thread::set_post_body(doc, pick(p).id, t, at(9)),
                ThreadEdit::DeletePost(p) => Thread::delete_post(doc, pick(p).id, at(9)),
                ThreadEdit::React(p, r, who, on) => Thread::react(doc, pick(p).id, r, person(*who), *on),
                ThreadEdit::Accept(choice) => match (kind, choice) {
                    (ThreadKind::Question, Some(i)) if posts.len() > 1 => {
                        Thread::accept(doc, Some(posts[1 + i.index(posts.len() - 1)].id))
                    }
                    (ThreadKind::Question, _) => Thread::accept(doc, None),
                    _ => Ok(()),
                },
            }
        }, Thread::read)?;
    }

    #[test]
    fn a_note_reads_the_same_after_saving_and_loading(
        title in any_text(),
        body in any_text(),
        edits in prop::collection::vec(text_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = new_doc(1);
        Note::create(&mut doc, &new_text(doc_id(33), &title, &body, Some(doc_id(10))))?;
        check_round_trip(&mut doc, &edits, split, |doc, edit| match edit {
            TextEdit::Title(t) => Note::set_title(doc, t),
            TextEdit::Splice(p, l, t) => {
                let current = Note::read(&*doc)?.body;
                Note::splice_body(doc, &splice_in(&current, *p, *l, t))
            }
            TextEdit::SetBody(b) => Note::set_body(doc, b),
            TextEdit::Tags(tags) => Note::set_tags(doc, tags),
            TextEdit::SharedAs(_) => set_deleted(doc, true),
        }, Note::read)?;
    }

    #[test]
    fn a_journal_entry_reads_the_same_after_saving_and_loading(
        title in any_text(),
        body in any_text(),
        shared_from in proptest::option::of(60..70u8),
        edits in prop::collection::vec(text_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = new_doc(1);
        JournalEntry::create(&mut doc, &new_text(doc_id(34), &title, &body, shared_from.map(doc_id)))?;
        check_round_trip(&mut doc, &edits, split, |doc, edit| match edit {
            TextEdit::Title(t) => JournalEntry::set_title(doc, t),
            TextEdit::Splice(p, l, t) => {
                let current = JournalEntry::read(&*doc)?.body;
                JournalEntry::splice_body(doc, &splice_in(&current, *p, *l, t))
            }
            TextEdit::SetBody(b) => JournalEntry::set_body(doc, b),
            TextEdit::Tags(tags) => JournalEntry::set_tags(doc, tags),
            TextEdit::SharedAs(copy) => JournalEntry::set_shared_as(doc, doc_id(*copy)),
        }, JournalEntry::read)?;
    }

    #[test]
    fn progress_reads_the_same_after_saving_and_loading(
        edits in prop::collection::vec(progress_edit(), 0..8),
        split in any::<Index>(),
    ) {
        let mut doc = new_doc(1);
        Progress::create(&mut doc, doc_id(35), space(1), person(3))?;
        check_round_trip(&mut doc, &edits, split, |doc, edit| match edit {
            ProgressEdit::Complete(l, t) => Progress::set_complete(doc, doc_id(50 + l), t.map(at)),
            ProgressEdit::Tick(l, i, d) => Progress::tick(doc, doc_id(50 + l), item(0xB0, *i), *d),
            ProgressEdit::Answer(l, q, a) => Progress::answer(doc, doc_id(50 + l), item(0xB1, *q), a),
        }, Progress::read)?;
    }
}

/// One concrete story per kind, independent of the generators: the rich sample document of
/// every kind (lists of maps, reactions, fields, bytes, ticks) survives a save and load.
#[rstest::rstest]
fn every_kind_of_sample_document_survives_save_and_load(
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
) -> TestResult {
    let mut doc = common::sample(kind)?;
    let (loaded, header) = cohort_model::load(&doc.save())?;
    assert_eq!(
        header.kind, kind,
        "load must report the saved document's kind"
    );
    let debug = |d: &AutoCommit| -> Result<String, ModelError> {
        Ok(match kind {
            DocKind::Profile => format!("{:?}", Profile::read(d)?),
            DocKind::Charter => format!("{:?}", Charter::read(d)?),
            DocKind::Membership => format!("{:?}", Membership::read(d)?),
            DocKind::Course => format!("{:?}", Course::read(d)?),
            DocKind::Lesson => format!("{:?}", Lesson::read(d)?),
            DocKind::Thread => format!("{:?}", Thread::read(d)?),
            DocKind::Note => format!("{:?}", Note::read(d)?),
            DocKind::JournalEntry => format!("{:?}", JournalEntry::read(d)?),
            DocKind::Progress => format!("{:?}", Progress::read(d)?),
        })
    };
    assert_eq!(
        debug(&loaded)?,
        debug(&doc)?,
        "the {kind} sample must read the same after save and load"
    );
    Ok(())
}
