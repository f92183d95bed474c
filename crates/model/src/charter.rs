//! A cohort's charter: name, purpose, norms, schedule and milestones.

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc, ScalarValue};
use serde::{Deserialize, Serialize};

use crate::access;
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::{DocId, DocKind, ItemId, PersonId, SpaceId, Timestamp};

/// A charter as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Charter {
    /// The document header.
    pub header: Header,
    /// The cohort's name.
    pub name: String,
    /// Why the cohort exists (Markdown).
    pub purpose: String,
    /// Norms the cohort agreed on, in order.
    pub norms: Vec<String>,
    /// Scheduled sessions.
    pub schedule: Vec<Session>,
    /// Milestones.
    pub milestones: Vec<Milestone>,
    /// Who created it.
    pub created_by: PersonId,
    /// When.
    pub created_at: Timestamp,
}

/// A scheduled session of the cohort.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Session {
    /// Id inside the charter.
    pub id: ItemId,
    /// What the session is.
    pub title: String,
    /// When it starts.
    pub at: Timestamp,
}

/// A milestone with an optional due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Milestone {
    /// Id inside the charter.
    pub id: ItemId,
    /// What is to be reached.
    pub title: String,
    /// When it is due.
    pub due: Option<Timestamp>,
    /// Whether it was reached.
    pub done: bool,
}

impl Charter {
    /// Writes a new charter into an empty document.
    pub fn create<T: Transactable>(
        tx: &mut T,
        id: DocId,
        space: SpaceId,
        name: &str,
        purpose: &str,
        created_by: PersonId,
        created_at: Timestamp,
    ) -> Result<()> {
        if name.trim().is_empty() {
            return Err(ModelError::InvalidEdit("a cohort needs a name".into()));
        }
        header::write(tx, DocKind::Charter, id, space)?;
        tx.put(ROOT, "name", name.trim())?;
        access::put_text(tx, &ROOT, "purpose", purpose)?;
        tx.put_object(ROOT, "norms", ObjType::List)?;
        tx.put_object(ROOT, "schedule", ObjType::List)?;
        tx.put_object(ROOT, "milestones", ObjType::List)?;
        tx.put(ROOT, "created_by", created_by.to_string())?;
        tx.put(ROOT, "created_at", created_at.millis())?;
        Ok(())
    }

    /// Reads and validates a charter.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Charter> {
        let header = header::expect_kind(doc, DocKind::Charter)?;
        let norms_list = access::object(doc, &ROOT, "norms", ObjType::List, "")?;
        let schedule_list = access::object(doc, &ROOT, "schedule", ObjType::List, "")?;
        let mut schedule = Vec::new();
        for (obj, path) in access::list_maps(doc, &schedule_list, "schedule")? {
            schedule.push(Session {
                id: access::parsed(doc, &obj, "id", &path)?,
                title: access::string(doc, &obj, "title", &path)?,
                at: Timestamp(access::int(doc, &obj, "at", &path)?),
            });
        }
        let milestone_list = access::object(doc, &ROOT, "milestones", ObjType::List, "")?;
        let mut milestones = Vec::new();
        for (obj, path) in access::list_maps(doc, &milestone_list, "milestones")? {
            milestones.push(Milestone {
                id: access::parsed(doc, &obj, "id", &path)?,
                title: access::string(doc, &obj, "title", &path)?,
                due: access::opt_int(doc, &obj, "due", &path)?.map(Timestamp),
                done: access::flag(doc, &obj, "done", &path)?,
            });
        }
        Ok(Charter {
            header,
            name: access::string(doc, &ROOT, "name", "")?,
            purpose: access::opt_string(doc, &ROOT, "purpose", "")?.unwrap_or_default(),
            norms: access::list_strings(doc, &norms_list, "norms")?,
            schedule,
            milestones,
            created_by: access::parsed(doc, &ROOT, "created_by", "")?,
            created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
        })
    }

    /// Renames the cohort.
    pub fn set_name<T: Transactable>(tx: &mut T, name: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        if name.trim().is_empty() {
            return Err(ModelError::InvalidEdit("a cohort needs a name".into()));
        }
        tx.put(ROOT, "name", name.trim())?;
        Ok(())
    }

    /// Replaces the purpose with the smallest edit that produces `purpose`.
    pub fn set_purpose<T: Transactable>(tx: &mut T, purpose: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        access::update_text(tx, &ROOT, "purpose", purpose, "")
    }

    /// Appends a norm.
    pub fn add_norm<T: Transactable>(tx: &mut T, norm: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        let list = access::object(tx, &ROOT, "norms", ObjType::List, "")?;
        tx.insert(&list, tx.length(&list), norm)?;
        Ok(())
    }

    /// Removes the norm at `index`.
    pub fn remove_norm<T: Transactable>(tx: &mut T, index: usize) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        let list = access::object(tx, &ROOT, "norms", ObjType::List, "")?;
        if index >= tx.length(&list) {
            return Err(ModelError::NotFound {
                what: "norm",
                id: index.to_string(),
            });
        }
        tx.delete(&list, index)?;
        Ok(())
    }

    /// Adds a scheduled session.
    pub fn add_session<T: Transactable>(tx: &mut T, session: &Session) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        let list = access::object(tx, &ROOT, "schedule", ObjType::List, "")?;
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "id", session.id.to_string())?;
        tx.put(&obj, "title", session.title.as_str())?;
        tx.put(&obj, "at", session.at.millis())?;
        Ok(())
    }

    /// Adds a milestone.
    pub fn add_milestone<T: Transactable>(tx: &mut T, m: &Milestone) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        let list = access::object(tx, &ROOT, "milestones", ObjType::List, "")?;
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "id", m.id.to_string())?;
        tx.put(&obj, "title", m.title.as_str())?;
        match m.due {
            Some(due) => tx.put(&obj, "due", due.millis())?,
            None => tx.put(&obj, "due", ScalarValue::Null)?,
        }
        tx.put(&obj, "done", m.done)?;
        Ok(())
    }

    /// Marks a milestone reached or not.
    pub fn set_milestone_done<T: Transactable>(tx: &mut T, id: ItemId, done: bool) -> Result<()> {
        header::expect_kind(tx, DocKind::Charter)?;
        let list = access::object(tx, &ROOT, "milestones", ObjType::List, "")?;
        let (_, obj) = access::find_by_id(tx, &list, &id.to_string())?.ok_or_else(|| {
            ModelError::NotFound {
                what: "milestone",
                id: id.to_string(),
            }
        })?;
        tx.put(&obj, "done", done)?;
        Ok(())
    }
}
