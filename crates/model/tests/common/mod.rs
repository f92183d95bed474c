//! Helpers shared by the model's integration tests: fixed ids, a sample document of every
//! kind, readers for every kind, UTF-16 boundaries and text strategies for proptest.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::error::Error;

use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, Value};
use cohort_model::{
    Attachment, Charter, ChecklistItem, Course, DocId, DocKind, Entry, EntryKind, ItemId,
    JournalEntry, Lesson, Membership, Milestone, ModelError, NewCourse, NewLesson, NewPost,
    NewText, NewThread, Note, PersonId, Profile, Progress, Question, Session, SpaceId, Thread,
    ThreadKind, Timestamp,
};
use proptest::prelude::*;

/// The error type of the tests.
pub type TestResult<T = ()> = Result<T, Box<dyn Error>>;

/// A document id whose bytes are all `n`.
pub fn doc_id(n: u8) -> DocId {
    DocId::from_bytes([n; 16])
}

/// A space id whose bytes are all `n`.
pub fn space(n: u8) -> SpaceId {
    SpaceId::from_bytes([n; 16])
}

/// A person id whose bytes are all `n`.
pub fn person(n: u8) -> PersonId {
    PersonId::from_bytes([n; 16])
}

/// An item id made of a tag byte and a sequence number (distinct per `(tag, n)`).
pub fn item(tag: u8, n: u16) -> ItemId {
    let mut bytes = [tag; 16];
    bytes[14..].copy_from_slice(&n.to_be_bytes());
    ItemId::from_bytes(bytes)
}

/// A fixed point in time plus `n` seconds.
pub fn at(n: i64) -> Timestamp {
    Timestamp(1_700_000_000_000 + n * 1000)
}

/// An empty document with a fixed actor, so test runs are deterministic.
pub fn new_doc(actor: u8) -> AutoCommit {
    AutoCommit::new().with_actor(ActorId::from([actor; 16]))
}

/// The lesson every anchor and convergence test starts from.
pub fn lesson_with_body(body: &str) -> Result<AutoCommit, ModelError> {
    let mut doc = new_doc(1);
    Lesson::create(
        &mut doc,
        &NewLesson {
            id: doc_id(10),
            space: space(2),
            course: doc_id(11),
            title: "Photosynthesis",
            body,
            created_by: person(3),
            created_at: at(0),
        },
    )?;
    Ok(doc)
}

/// A question thread with an opening post (id `item(0xA0, 0)`) and one answer
/// (id `item(0xA0, 1)`).
pub fn question_thread(kind: ThreadKind) -> Result<AutoCommit, ModelError> {
    let mut doc = new_doc(1);
    Thread::create(
        &mut doc,
        &NewThread {
            id: doc_id(20),
            space: space(2),
            kind,
            title: "Why is the sky blue?",
            lesson: None,
            anchor: None,
            first_post: NewPost {
                id: item(0xA0, 0),
                author: person(3),
                body: "I wonder.",
                at: at(1),
                reply_to: None,
            },
        },
    )?;
    Thread::reply(
        &mut doc,
        &NewPost {
            id: item(0xA0, 1),
            author: person(4),
            body: "Rayleigh scattering 🌈",
            at: at(2),
            reply_to: Some(item(0xA0, 0)),
        },
    )?;
    Ok(doc)
}

/// A document of `kind` with some of every nested structure its schema has (lists of maps,
/// reactions, fields, ticks...), so malformations can target any path.
pub fn sample(kind: DocKind) -> Result<AutoCommit, ModelError> {
    let mut doc = new_doc(1);
    match kind {
        DocKind::Profile => {
            Profile::create(&mut doc, doc_id(30), space(1), person(3), "Ada")?;
            Profile::add_device(&mut doc, "0a0b", "laptop", at(1))?;
        }
        DocKind::Charter => {
            Charter::create(
                &mut doc,
                doc_id(31),
                space(2),
                "Night owls",
                "Learn together",
                person(3),
                at(0),
            )?;
            Charter::add_norm(&mut doc, "Be kind")?;
            Charter::add_norm(&mut doc, "Share notes")?;
            Charter::add_session(
                &mut doc,
                &Session {
                    id: item(0xC0, 0),
                    title: "Kick-off".into(),
                    at: at(100),
                },
            )?;
            Charter::add_milestone(
                &mut doc,
                &Milestone {
                    id: item(0xC1, 0),
                    title: "Module 1".into(),
                    due: Some(at(200)),
                    done: false,
                },
            )?;
        }
        DocKind::Membership => {
            Membership::create(&mut doc, doc_id(32), space(2))?;
            Membership::append(
                &mut doc,
                &Entry {
                    id: item(0xD0, 0),
                    kind: EntryKind::Create,
                    author_device: "device-1".into(),
                    at: at(0),
                    fields: [("name".to_owned(), "Night owls".to_owned())].into(),
                    signature: vec![1, 2, 3],
                },
            )?;
        }
        DocKind::Course => {
            Course::create(
                &mut doc,
                &NewCourse {
                    id: doc_id(11),
                    space: space(2),
                    title: "Biology",
                    summary: "Life",
                    created_by: person(3),
                    created_at: at(0),
                },
            )?;
            Course::add_module(&mut doc, item(0xE0, 0), "Plants", None)?;
            Course::place_lesson(&mut doc, item(0xE0, 0), doc_id(10), None)?;
        }
        DocKind::Lesson => {
            doc = lesson_with_body("Light becomes sugar.")?;
            Lesson::add_checklist_item(
                &mut doc,
                &ChecklistItem {
                    id: item(0xB0, 0),
                    text: "Read".into(),
                },
            )?;
            Lesson::add_question(
                &mut doc,
                &Question {
                    id: item(0xB1, 0),
                    prompt: "What becomes sugar?".into(),
                    answer: "Light".into(),
                    choices: vec!["Light".into(), "Water".into()],
                },
            )?;
            Lesson::add_attachment(
                &mut doc,
                &Attachment {
                    hash: "ab".repeat(32),
                    name: "leaf.png".into(),
                    mime: "image/png".into(),
                    size: 1234,
                },
            )?;
        }
        DocKind::Thread => {
            doc = question_thread(ThreadKind::Question)?;
            Thread::react(&mut doc, item(0xA0, 1), "👍", person(5), true)?;
        }
        DocKind::Note => {
            Note::create(
                &mut doc,
                &new_text(doc_id(33), "A note", "Body", Some(doc_id(10))),
            )?;
        }
        DocKind::JournalEntry => {
            JournalEntry::create(&mut doc, &new_text(doc_id(34), "Day 1", "Dear diary", None))?;
        }
        DocKind::Progress => {
            Progress::create(&mut doc, doc_id(35), space(1), person(3))?;
            Progress::set_complete(&mut doc, doc_id(10), Some(at(5)))?;
            Progress::tick(&mut doc, doc_id(10), item(0xB0, 0), true)?;
            Progress::answer(&mut doc, doc_id(10), item(0xB1, 0), "Light")?;
        }
    }
    Ok(doc)
}

const TAGS: &[String] = &[];

/// What a new note or journal entry in the samples starts with.
pub fn new_text<'a>(
    id: DocId,
    title: &'a str,
    body: &'a str,
    origin: Option<DocId>,
) -> NewText<'a> {
    NewText {
        id,
        space: space(1),
        title,
        body,
        tags: TAGS,
        created_by: person(3),
        created_at: at(0),
        origin,
    }
}

/// Reads `doc` as a document of `kind`, keeping only whether that succeeded.
pub fn read_as(kind: DocKind, doc: &AutoCommit) -> Result<(), ModelError> {
    match kind {
        DocKind::Profile => Profile::read(doc).map(drop),
        DocKind::Charter => Charter::read(doc).map(drop),
        DocKind::Membership => Membership::read(doc).map(drop),
        DocKind::Course => Course::read(doc).map(drop),
        DocKind::Lesson => Lesson::read(doc).map(drop),
        DocKind::Thread => Thread::read(doc).map(drop),
        DocKind::Note => Note::read(doc).map(drop),
        DocKind::JournalEntry => JournalEntry::read(doc).map(drop),
        DocKind::Progress => Progress::read(doc).map(drop),
    }
}

/// The object at a dotted path such as `posts.0.reactions` ("" is the root).
pub fn obj_at(doc: &AutoCommit, path: &str) -> TestResult<ObjId> {
    let mut obj = ROOT;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let found = match part.parse::<usize>() {
            Ok(index) => doc.get(&obj, index)?,
            Err(_) => doc.get(&obj, part)?,
        };
        obj = match found {
            Some((Value::Object(_), id)) => id,
            _ => return Err(format!("no object at {part:?} of {path:?}").into()),
        };
    }
    Ok(obj)
}

/// The type of the object at a dotted path.
pub fn obj_type_at(doc: &AutoCommit, path: &str) -> TestResult<ObjType> {
    let obj = obj_at(doc, path)?;
    Ok(doc.object_type(&obj)?)
}

/// Every offset of `text` in UTF-16 code units that is a character boundary (0 and the
/// length included): the only places an editor can put a caret.
pub fn utf16_boundaries(text: &str) -> Vec<usize> {
    let mut out = vec![0];
    let mut at = 0;
    for c in text.chars() {
        at += c.len_utf16();
        out.push(at);
    }
    out
}

/// Pieces of text that stress UTF-16 handling: ASCII, precomposed and combining accents,
/// emoji (surrogate pairs, ZWJ sequences, flags), CJK, right-to-left scripts and controls.
pub const PIECES: &[&str] = &[
    "a",
    "Z",
    " ",
    "\n",
    "é",
    "e\u{301}",
    "😀",
    "👩‍👩‍👧",
    "🇯🇵",
    "日本語",
    "学",
    "שלום",
    "مرحبا",
    "\u{200f}",
    "#",
    "∑",
    "ß",
];

/// Arbitrary text: empty, made of the stress pieces, or any printable characters.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::collection::vec(prop::sample::select(PIECES), 0..8).prop_map(|p| p.concat()),
        "\\PC{0,12}",
    ]
}
