//! One learner's progress in one space: lesson completion, checklist ticks and answers to
//! self-check questions. Owned by the learner.
//!
//! The maps are flat (`lesson:item` keys) and all created with the document, so edits made
//! concurrently on two devices never race to create the same nested object.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue};
use serde::Serialize;

use crate::access;
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::{DocId, DocKind, ItemId, PersonId, SpaceId, Timestamp};

/// A progress document as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Progress {
    /// The document header.
    pub header: Header,
    /// Whose progress this is.
    pub learner: PersonId,
    /// Per lesson.
    pub lessons: BTreeMap<DocId, LessonProgress>,
}

/// Progress in one lesson.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LessonProgress {
    /// When the learner marked the lesson complete.
    pub completed_at: Option<Timestamp>,
    /// Checklist item -> ticked.
    pub checklist: BTreeMap<ItemId, bool>,
    /// Question -> the learner's answer.
    pub answers: BTreeMap<ItemId, String>,
}

fn parse_id<T: std::str::FromStr<Err = crate::ParseIdError>>(text: &str, path: &str) -> Result<T> {
    text.parse()
        .map_err(|e: crate::ParseIdError| ModelError::malformed(path, e.to_string()))
}

fn split_key(key: &str, path: &str) -> Result<(DocId, ItemId)> {
    let (lesson, item) = key
        .split_once(':')
        .ok_or_else(|| ModelError::malformed(path, format!("bad key {key:?}")))?;
    Ok((parse_id(lesson, path)?, parse_id(item, path)?))
}

impl Progress {
    /// Writes a new progress document into an empty document.
    pub fn create<T: Transactable>(
        tx: &mut T,
        id: DocId,
        space: SpaceId,
        learner: PersonId,
    ) -> Result<()> {
        header::write(tx, DocKind::Progress, id, space)?;
        tx.put(ROOT, "learner", learner.to_string())?;
        tx.put_object(ROOT, "completed", ObjType::Map)?;
        tx.put_object(ROOT, "ticks", ObjType::Map)?;
        tx.put_object(ROOT, "answers", ObjType::Map)?;
        Ok(())
    }

    /// Reads and validates progress.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Progress> {
        let header = header::expect_kind(doc, DocKind::Progress)?;
        let mut lessons: BTreeMap<DocId, LessonProgress> = BTreeMap::new();
        let completed = access::object(doc, &ROOT, "completed", ObjType::Map, "")?;
        for key in access::keys(doc, &completed) {
            let lesson = parse_id(&key, "completed")?;
            if let Some(at) = access::opt_int(doc, &completed, &key, "completed")? {
                lessons.entry(lesson).or_default().completed_at = Some(Timestamp(at));
            }
        }
        let ticks = access::object(doc, &ROOT, "ticks", ObjType::Map, "")?;
        for key in access::keys(doc, &ticks) {
            let (lesson, item) = split_key(&key, "ticks")?;
            let done = access::flag(doc, &ticks, &key, "ticks")?;
            lessons
                .entry(lesson)
                .or_default()
                .checklist
                .insert(item, done);
        }
        let answers = access::object(doc, &ROOT, "answers", ObjType::Map, "")?;
        for key in access::keys(doc, &answers) {
            let (lesson, question) = split_key(&key, "answers")?;
            let answer = access::string(doc, &answers, &key, "answers")?;
            lessons
                .entry(lesson)
                .or_default()
                .answers
                .insert(question, answer);
        }
        Ok(Progress {
            header,
            learner: access::parsed(doc, &ROOT, "learner", "")?,
            lessons,
        })
    }

    /// Marks a lesson complete at `at`, or not complete with `None`.
    pub fn set_complete<T: Transactable>(
        tx: &mut T,
        lesson: DocId,
        at: Option<Timestamp>,
    ) -> Result<()> {
        let map = root_map(tx, "completed")?;
        match at {
            Some(at) => tx.put(&map, lesson.to_string(), at.millis())?,
            None => tx.put(&map, lesson.to_string(), ScalarValue::Null)?,
        }
        Ok(())
    }

    /// Ticks or unticks a checklist item.
    pub fn tick<T: Transactable>(
        tx: &mut T,
        lesson: DocId,
        item: ItemId,
        done: bool,
    ) -> Result<()> {
        let map = root_map(tx, "ticks")?;
        tx.put(&map, format!("{lesson}:{item}"), done)?;
        Ok(())
    }

    /// Records the learner's answer to a self-check question.
    pub fn answer<T: Transactable>(
        tx: &mut T,
        lesson: DocId,
        question: ItemId,
        answer: &str,
    ) -> Result<()> {
        let map = root_map(tx, "answers")?;
        tx.put(&map, format!("{lesson}:{question}"), answer)?;
        Ok(())
    }
}

fn root_map<R: ReadDoc>(doc: &R, key: &str) -> Result<ObjId> {
    header::expect_kind(doc, DocKind::Progress)?;
    access::object(doc, &ROOT, key, ObjType::Map, "")
}
