//! Notes and journal entries: Markdown bodies with tags. Notes live in any space; journal
//! entries live in the personal space and are private until their author shares one.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc};
use serde::Serialize;

use crate::access;
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::text::{self, Splice};
use crate::{DocId, DocKind, PersonId, SpaceId, Timestamp};

/// A note as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Note {
    /// The document header.
    pub header: Header,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Tags.
    pub tags: Vec<String>,
    /// The lesson this note was forked from, if any.
    pub source: Option<DocId>,
    /// Author.
    pub created_by: PersonId,
    /// When.
    pub created_at: Timestamp,
}

/// A journal entry as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct JournalEntry {
    /// The document header.
    pub header: Header,
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
    /// Tags.
    pub tags: Vec<String>,
    /// For a shared copy in a cohort: the private entry it was shared from.
    pub shared_from: Option<DocId>,
    /// For a private entry: the shared copy made of it, if any.
    pub shared_as: Option<DocId>,
    /// Author.
    pub created_by: PersonId,
    /// When.
    pub created_at: Timestamp,
}

/// What a new note or journal entry starts with.
#[derive(Debug, Clone)]
pub struct NewText<'a> {
    /// The new document's id.
    pub id: DocId,
    /// The space.
    pub space: SpaceId,
    /// Title.
    pub title: &'a str,
    /// Markdown body.
    pub body: &'a str,
    /// Tags.
    pub tags: &'a [String],
    /// Author.
    pub created_by: PersonId,
    /// Creation time.
    pub created_at: Timestamp,
    /// Note: the lesson it was forked from. Journal entry: the entry it is a shared copy of.
    pub origin: Option<DocId>,
}

struct Common {
    header: Header,
    title: String,
    body: String,
    tags: Vec<String>,
    created_by: PersonId,
    created_at: Timestamp,
}

fn create<T: Transactable>(
    tx: &mut T,
    kind: DocKind,
    origin_key: &str,
    new: &NewText<'_>,
) -> Result<()> {
    header::write(tx, kind, new.id, new.space)?;
    tx.put(ROOT, "title", new.title)?;
    access::put_text(tx, &ROOT, "body", new.body)?;
    access::put_string_list(tx, &ROOT, "tags", new.tags)?;
    tx.put(ROOT, "created_by", new.created_by.to_string())?;
    tx.put(ROOT, "created_at", new.created_at.millis())?;
    if let Some(origin) = new.origin {
        tx.put(ROOT, origin_key, origin.to_string())?;
    }
    Ok(())
}

/// Reads the fields every text document has; the body only if `with_body` (reading a long
/// body costs time in proportion to its length), though it must be text either way.
fn read_common<R: ReadDoc>(doc: &R, kind: DocKind, with_body: bool) -> Result<Common> {
    let header = header::expect_kind(doc, kind)?;
    let tags = match access::opt_object(doc, &ROOT, "tags", ObjType::List, "")? {
        Some(list) => access::list_strings(doc, &list, "tags")?,
        None => Vec::new(),
    };
    let body = if with_body {
        access::string(doc, &ROOT, "body", "")?
    } else {
        access::object(doc, &ROOT, "body", ObjType::Text, "")?;
        String::new()
    };
    Ok(Common {
        header,
        title: access::string(doc, &ROOT, "title", "")?,
        body,
        tags,
        created_by: access::parsed(doc, &ROOT, "created_by", "")?,
        created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
    })
}

fn body<R: ReadDoc>(doc: &R, kind: DocKind) -> Result<ObjId> {
    header::expect_kind(doc, kind)?;
    access::object(doc, &ROOT, "body", ObjType::Text, "")
}

fn set_tags<T: Transactable>(tx: &mut T, kind: DocKind, tags: &[String]) -> Result<()> {
    header::expect_kind(tx, kind)?;
    access::put_string_list(tx, &ROOT, "tags", tags)?;
    Ok(())
}

macro_rules! text_doc_edits {
    ($ty:ident, $kind:expr) => {
        impl $ty {
            /// Sets the title.
            pub fn set_title<T: Transactable>(tx: &mut T, title: &str) -> Result<()> {
                header::expect_kind(tx, $kind)?;
                tx.put(ROOT, "title", title)?;
                Ok(())
            }

            /// Applies an editor splice (UTF-16 positions) to the body.
            pub fn splice_body<T: Transactable>(tx: &mut T, splice: &Splice) -> Result<()> {
                let body = body(tx, $kind)?;
                text::apply(tx, &body, splice)
            }

            /// Replaces the body with the smallest edit that produces `text`.
            pub fn set_body<T: Transactable>(tx: &mut T, text: &str) -> Result<()> {
                header::expect_kind(tx, $kind)?;
                access::update_text(tx, &ROOT, "body", text, "")
            }

            /// Replaces the tags.
            pub fn set_tags<T: Transactable>(tx: &mut T, tags: &[String]) -> Result<()> {
                set_tags(tx, $kind, tags)
            }
        }
    };
}

text_doc_edits!(Note, DocKind::Note);
text_doc_edits!(JournalEntry, DocKind::JournalEntry);

impl Note {
    /// Writes a new note into an empty document (`origin`: the lesson it was forked from).
    pub fn create<T: Transactable>(tx: &mut T, new: &NewText<'_>) -> Result<()> {
        create(tx, DocKind::Note, "source", new)
    }

    /// Reads and validates a note.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Note> {
        Self::read_with(doc, true)
    }

    /// Reads and validates a note as [`Note::read`] does, except that `body` is left empty
    /// (it is checked to be text, not read): for index rows, which do not show it.
    pub fn read_without_body<R: ReadDoc>(doc: &R) -> Result<Note> {
        Self::read_with(doc, false)
    }

    fn read_with<R: ReadDoc>(doc: &R, with_body: bool) -> Result<Note> {
        let c = read_common(doc, DocKind::Note, with_body)?;
        Ok(Note {
            source: access::opt_parsed(doc, &ROOT, "source", "")?,
            header: c.header,
            title: c.title,
            body: c.body,
            tags: c.tags,
            created_by: c.created_by,
            created_at: c.created_at,
        })
    }
}

impl JournalEntry {
    /// Writes a new journal entry into an empty document (`origin`: for a shared copy, the
    /// private entry it copies).
    pub fn create<T: Transactable>(tx: &mut T, new: &NewText<'_>) -> Result<()> {
        create(tx, DocKind::JournalEntry, "shared_from", new)
    }

    /// Reads and validates a journal entry.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<JournalEntry> {
        Self::read_with(doc, true)
    }

    /// Reads and validates an entry as [`JournalEntry::read`] does, except that `body` is
    /// left empty (it is checked to be text, not read): for index rows.
    pub fn read_without_body<R: ReadDoc>(doc: &R) -> Result<JournalEntry> {
        Self::read_with(doc, false)
    }

    fn read_with<R: ReadDoc>(doc: &R, with_body: bool) -> Result<JournalEntry> {
        let c = read_common(doc, DocKind::JournalEntry, with_body)?;
        Ok(JournalEntry {
            shared_from: access::opt_parsed(doc, &ROOT, "shared_from", "")?,
            shared_as: access::opt_parsed(doc, &ROOT, "shared_as", "")?,
            header: c.header,
            title: c.title,
            body: c.body,
            tags: c.tags,
            created_by: c.created_by,
            created_at: c.created_at,
        })
    }

    /// Records on a private entry the shared copy made of it.
    pub fn set_shared_as<T: Transactable>(tx: &mut T, copy: DocId) -> Result<()> {
        let header = header::expect_kind(tx, DocKind::JournalEntry)?;
        if header.id == copy {
            return Err(ModelError::InvalidEdit(
                "an entry cannot be its own copy".into(),
            ));
        }
        tx.put(ROOT, "shared_as", copy.to_string())?;
        Ok(())
    }
}
