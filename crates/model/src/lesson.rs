//! Lessons: a Markdown body held as Automerge Text, a checklist, self-check questions and
//! attachments by blob hash. Also the text anchors that threads use to point at a passage.

use automerge::transaction::Transactable;
use automerge::{Cursor, MoveCursor, ObjId, ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::access::{self, join};
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::text::{self, Splice};
use crate::{DocId, DocKind, ItemId, PersonId, SpaceId, Timestamp};

/// A lesson as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Lesson {
    /// The document header.
    pub header: Header,
    /// The course this lesson belongs to.
    pub course: DocId,
    /// Title.
    pub title: String,
    /// The Markdown body.
    pub body: String,
    /// Checklist items in order.
    pub checklist: Vec<ChecklistItem>,
    /// Self-check questions in order.
    pub questions: Vec<Question>,
    /// Attached files (content in the blob store).
    pub attachments: Vec<Attachment>,
    /// Who created the lesson.
    pub created_by: PersonId,
    /// When.
    pub created_at: Timestamp,
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ChecklistItem {
    /// Id inside the lesson.
    pub id: ItemId,
    /// What to do.
    pub text: String,
}

/// A self-check question with its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Question {
    /// Id inside the lesson.
    pub id: ItemId,
    /// The question.
    pub prompt: String,
    /// The expected answer (shown after the learner answers).
    pub answer: String,
    /// Choices for a multiple-choice question; empty for free text.
    pub choices: Vec<String>,
}

/// A file attached to a lesson; the bytes live in the blob store under `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Attachment {
    /// BLAKE3 hash of the content, as 64 hex digits.
    pub hash: String,
    /// File name shown to people.
    pub name: String,
    /// Media type, e.g. `image/png`.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
}

/// The fields of a lesson that list views need, read without reading the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LessonSummary {
    /// The document header.
    pub header: Header,
    /// The course this lesson belongs to.
    pub course: DocId,
    /// Title.
    pub title: String,
    /// Number of checklist items.
    pub checklist: usize,
    /// Number of self-check questions.
    pub questions: usize,
    /// When it was created.
    pub created_at: Timestamp,
}

/// What a new lesson starts with.
#[derive(Debug, Clone)]
pub struct NewLesson<'a> {
    /// The new document's id.
    pub id: DocId,
    /// The space.
    pub space: SpaceId,
    /// The course it belongs to.
    pub course: DocId,
    /// Title.
    pub title: &'a str,
    /// Markdown body.
    pub body: &'a str,
    /// Creator.
    pub created_by: PersonId,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A stable pointer to a range of a lesson's body that follows the text through edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Anchor {
    /// The lesson.
    pub lesson: DocId,
    /// Cursor at the first character of the range.
    pub start: String,
    /// Cursor at the last character of the range.
    pub end: String,
    /// The text of the range when the anchor was made.
    pub quote: String,
}

/// Where an anchor points now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AnchorState {
    /// The passage still exists: `[start, end)` in UTF-16 code units, and its current text.
    Attached {
        /// Start offset.
        start: usize,
        /// End offset (exclusive).
        end: usize,
        /// The passage's current text.
        text: String,
    },
    /// Every character of the passage was deleted; the thread keeps its original quote.
    Detached,
}

impl Lesson {
    /// Writes a new lesson into an empty document.
    pub fn create<T: Transactable>(tx: &mut T, new: &NewLesson<'_>) -> Result<()> {
        header::write(tx, DocKind::Lesson, new.id, new.space)?;
        tx.put(ROOT, "course", new.course.to_string())?;
        tx.put(ROOT, "title", new.title)?;
        access::put_text(tx, &ROOT, "body", new.body)?;
        tx.put_object(ROOT, "checklist", ObjType::List)?;
        tx.put_object(ROOT, "questions", ObjType::List)?;
        tx.put_object(ROOT, "attachments", ObjType::List)?;
        tx.put(ROOT, "created_by", new.created_by.to_string())?;
        tx.put(ROOT, "created_at", new.created_at.millis())?;
        Ok(())
    }

    /// Reads and validates a lesson.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Lesson> {
        let header = header::expect_kind(doc, DocKind::Lesson)?;
        let checklist_list = access::object(doc, &ROOT, "checklist", ObjType::List, "")?;
        let mut checklist = Vec::new();
        for (obj, path) in access::list_maps(doc, &checklist_list, "checklist")? {
            checklist.push(ChecklistItem {
                id: access::parsed(doc, &obj, "id", &path)?,
                text: access::string(doc, &obj, "text", &path)?,
            });
        }
        let questions_list = access::object(doc, &ROOT, "questions", ObjType::List, "")?;
        let mut questions = Vec::new();
        for (obj, path) in access::list_maps(doc, &questions_list, "questions")? {
            let choices = match access::opt_object(doc, &obj, "choices", ObjType::List, &path)? {
                Some(list) => access::list_strings(doc, &list, &join(&path, "choices"))?,
                None => Vec::new(),
            };
            questions.push(Question {
                id: access::parsed(doc, &obj, "id", &path)?,
                prompt: access::string(doc, &obj, "prompt", &path)?,
                answer: access::opt_string(doc, &obj, "answer", &path)?.unwrap_or_default(),
                choices,
            });
        }
        let attachments_list = access::object(doc, &ROOT, "attachments", ObjType::List, "")?;
        let mut attachments = Vec::new();
        for (obj, path) in access::list_maps(doc, &attachments_list, "attachments")? {
            let size = access::int(doc, &obj, "size", &path)?;
            attachments.push(Attachment {
                hash: access::string(doc, &obj, "hash", &path)?,
                name: access::string(doc, &obj, "name", &path)?,
                mime: access::opt_string(doc, &obj, "mime", &path)?.unwrap_or_default(),
                size: u64::try_from(size)
                    .map_err(|_| ModelError::malformed(join(&path, "size"), "negative size"))?,
            });
        }
        Ok(Lesson {
            header,
            course: access::parsed(doc, &ROOT, "course", "")?,
            title: access::string(doc, &ROOT, "title", "")?,
            body: access::string(doc, &ROOT, "body", "")?,
            checklist,
            questions,
            attachments,
            created_by: access::parsed(doc, &ROOT, "created_by", "")?,
            created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
        })
    }

    /// Reads what list views need, without reading the body.
    pub fn summary<R: ReadDoc>(doc: &R) -> Result<LessonSummary> {
        let header = header::expect_kind(doc, DocKind::Lesson)?;
        let checklist = access::object(doc, &ROOT, "checklist", ObjType::List, "")?;
        let questions = access::object(doc, &ROOT, "questions", ObjType::List, "")?;
        Ok(LessonSummary {
            header,
            course: access::parsed(doc, &ROOT, "course", "")?,
            title: access::string(doc, &ROOT, "title", "")?,
            checklist: doc.length(&checklist),
            questions: doc.length(&questions),
            created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
        })
    }

    /// Sets the title.
    pub fn set_title<T: Transactable>(tx: &mut T, title: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Lesson)?;
        tx.put(ROOT, "title", title)?;
        Ok(())
    }

    /// Applies an editor splice (UTF-16 positions) to the body.
    pub fn splice_body<T: Transactable>(tx: &mut T, splice: &Splice) -> Result<()> {
        let body = body_text(tx)?;
        text::apply(tx, &body, splice)
    }

    /// Replaces the whole body with the smallest edit that produces `body` (for imports and
    /// tools that do not report splices).
    pub fn set_body<T: Transactable>(tx: &mut T, body: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Lesson)?;
        access::update_text(tx, &ROOT, "body", body, "")
    }

    /// Appends a checklist item.
    pub fn add_checklist_item<T: Transactable>(tx: &mut T, item: &ChecklistItem) -> Result<()> {
        let list = list(tx, "checklist")?;
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "id", item.id.to_string())?;
        tx.put(&obj, "text", item.text.as_str())?;
        Ok(())
    }

    /// Removes a checklist item.
    pub fn remove_checklist_item<T: Transactable>(tx: &mut T, id: ItemId) -> Result<()> {
        remove_item(tx, "checklist", "checklist item", id)
    }

    /// Appends a self-check question.
    pub fn add_question<T: Transactable>(tx: &mut T, q: &Question) -> Result<()> {
        let list = list(tx, "questions")?;
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "id", q.id.to_string())?;
        tx.put(&obj, "prompt", q.prompt.as_str())?;
        tx.put(&obj, "answer", q.answer.as_str())?;
        access::put_string_list(tx, &obj, "choices", &q.choices)?;
        Ok(())
    }

    /// Removes a self-check question.
    pub fn remove_question<T: Transactable>(tx: &mut T, id: ItemId) -> Result<()> {
        remove_item(tx, "questions", "question", id)
    }

    /// Appends an attachment record.
    pub fn add_attachment<T: Transactable>(tx: &mut T, a: &Attachment) -> Result<()> {
        let list = list(tx, "attachments")?;
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "hash", a.hash.as_str())?;
        tx.put(&obj, "name", a.name.as_str())?;
        tx.put(&obj, "mime", a.mime.as_str())?;
        let size = i64::try_from(a.size)
            .map_err(|_| ModelError::InvalidEdit("attachment too large".into()))?;
        tx.put(&obj, "size", size)?;
        Ok(())
    }

    /// Makes an anchor for the body range `[start, end)` (UTF-16 code units). The range must
    /// be non-empty and inside the body.
    pub fn anchor<R: ReadDoc>(doc: &R, start: usize, end: usize) -> Result<Anchor> {
        let header = header::expect_kind(doc, DocKind::Lesson)?;
        let body = body_text(doc)?;
        let current = text::read(doc, &body)?;
        let len = text::utf16_len(&current);
        if start >= end || end > len {
            return Err(ModelError::InvalidEdit(format!(
                "anchor range {start}..{end} is empty or outside a body of {len} UTF-16 code units"
            )));
        }
        let first = doc.get_cursor_moving(&body, start, None, MoveCursor::After)?;
        let last = doc.get_cursor_moving(&body, end - 1, None, MoveCursor::Before)?;
        Ok(Anchor {
            lesson: header.id,
            start: first.to_string(),
            end: last.to_string(),
            quote: text::slice_utf16(&current, start, end),
        })
    }

    /// Where `anchor` points in this lesson now.
    pub fn resolve_anchor<R: ReadDoc>(doc: &R, anchor: &Anchor) -> Result<AnchorState> {
        let body = body_text(doc)?;
        let parse = |s: &str| {
            // Automerge's cursor parser slices the first byte, so it panics on an empty or
            // non-ASCII string (a malformed thread document can hold any string here).
            if s.is_empty() || !s.is_ascii() {
                return Err(ModelError::malformed("anchor", "bad cursor"));
            }
            Cursor::try_from(s)
                .map_err(|e| ModelError::malformed("anchor", format!("bad cursor: {e}")))
        };
        // The last character is resolved as an `After` cursor (drop the `Before` mark): that
        // is its own position while it exists and, once deleted, the position just after the
        // passage's surviving text. (A `Before` cursor resolves to 0 both for "the character
        // before is at 0" and for "nothing is before", which cannot be told apart.)
        let last_after = anchor.end.strip_prefix('-').unwrap_or(&anchor.end);
        let (first, last) = (parse(&anchor.start)?, parse(last_after)?);
        let current = text::read(doc, &body)?;
        let len = text::utf16_len(&current);
        if len == 0 {
            // Nothing is left to point at (and automerge 0.12's debug build panics resolving a
            // cursor to a deleted character with no visible character after it).
            return Ok(AnchorState::Detached);
        }
        let start = doc.get_cursor_position(&body, &first, None)?;
        let last_at = doc.get_cursor_position(&body, &last, None)?;
        let last_exists = last_at < len && doc.get_cursor(&body, last_at, None)? == last;
        let end = if last_exists {
            last_at + text::char_len_at(&current, last_at)
        } else {
            last_at
        };
        // When every character of the passage is gone the range is empty.
        let end = end.min(len);
        if start >= end {
            return Ok(AnchorState::Detached);
        }
        Ok(AnchorState::Attached {
            start,
            end,
            text: text::slice_utf16(&current, start, end),
        })
    }
}

fn body_text<R: ReadDoc>(doc: &R) -> Result<ObjId> {
    header::expect_kind(doc, DocKind::Lesson)?;
    access::object(doc, &ROOT, "body", ObjType::Text, "")
}

fn list<R: ReadDoc>(doc: &R, key: &str) -> Result<ObjId> {
    header::expect_kind(doc, DocKind::Lesson)?;
    access::object(doc, &ROOT, key, ObjType::List, "")
}

fn remove_item<T: Transactable>(
    tx: &mut T,
    key: &str,
    what: &'static str,
    id: ItemId,
) -> Result<()> {
    let list = list(tx, key)?;
    let (index, _) =
        access::find_by_id(tx, &list, &id.to_string())?.ok_or_else(|| ModelError::NotFound {
            what,
            id: id.to_string(),
        })?;
    tx.delete(&list, index)?;
    Ok(())
}
