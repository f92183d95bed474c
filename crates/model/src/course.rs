//! Courses: a title, a summary and ordered modules, each an ordered list of lesson ids.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc};
use serde::Serialize;

use crate::access::{self, join};
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::{DocId, DocKind, ItemId, PersonId, SpaceId, Timestamp};

/// A course as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Course {
    /// The document header.
    pub header: Header,
    /// The course title.
    pub title: String,
    /// A short description (Markdown).
    pub summary: String,
    /// Modules in order.
    pub modules: Vec<Module>,
    /// Who created the course.
    pub created_by: PersonId,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A module: a titled, ordered group of lessons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Module {
    /// The module's id inside the course.
    pub id: ItemId,
    /// The module title.
    pub title: String,
    /// Lesson documents in reading order.
    pub lessons: Vec<DocId>,
}

/// What a new course starts with.
#[derive(Debug, Clone)]
pub struct NewCourse<'a> {
    /// The new document's id.
    pub id: DocId,
    /// The space it belongs to.
    pub space: SpaceId,
    /// Title.
    pub title: &'a str,
    /// Summary (Markdown).
    pub summary: &'a str,
    /// Creator.
    pub created_by: PersonId,
    /// Creation time.
    pub created_at: Timestamp,
}

impl Course {
    /// Writes a new course into an empty document.
    pub fn create<T: Transactable>(tx: &mut T, new: &NewCourse<'_>) -> Result<()> {
        header::write(tx, DocKind::Course, new.id, new.space)?;
        tx.put(ROOT, "title", new.title)?;
        access::put_text(tx, &ROOT, "summary", new.summary)?;
        tx.put_object(ROOT, "modules", ObjType::List)?;
        tx.put(ROOT, "created_by", new.created_by.to_string())?;
        tx.put(ROOT, "created_at", new.created_at.millis())?;
        Ok(())
    }

    /// Reads and validates a course.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Course> {
        let header = header::expect_kind(doc, DocKind::Course)?;
        let list = access::object(doc, &ROOT, "modules", ObjType::List, "")?;
        let mut modules = Vec::new();
        for (obj, path) in access::list_maps(doc, &list, "modules")? {
            let lessons = access::object(doc, &obj, "lessons", ObjType::List, &path)?;
            modules.push(Module {
                id: access::parsed(doc, &obj, "id", &path)?,
                title: access::string(doc, &obj, "title", &path)?,
                lessons: access::list_parsed(doc, &lessons, &join(&path, "lessons"))?,
            });
        }
        Ok(Course {
            header,
            title: access::string(doc, &ROOT, "title", "")?,
            summary: access::opt_string(doc, &ROOT, "summary", "")?.unwrap_or_default(),
            modules,
            created_by: access::parsed(doc, &ROOT, "created_by", "")?,
            created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
        })
    }

    /// Sets the title.
    pub fn set_title<T: Transactable>(tx: &mut T, title: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Course)?;
        tx.put(ROOT, "title", title)?;
        Ok(())
    }

    /// Replaces the summary with a minimal text edit.
    pub fn set_summary<T: Transactable>(tx: &mut T, summary: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Course)?;
        access::update_text(tx, &ROOT, "summary", summary, "")
    }

    /// Adds a module at `index` (or at the end).
    pub fn add_module<T: Transactable>(
        tx: &mut T,
        id: ItemId,
        title: &str,
        index: Option<usize>,
    ) -> Result<()> {
        let list = modules_list(tx)?;
        let len = tx.length(&list);
        let at = index.unwrap_or(len).min(len);
        let module = tx.insert_object(&list, at, ObjType::Map)?;
        tx.put(&module, "id", id.to_string())?;
        tx.put(&module, "title", title)?;
        tx.put_object(&module, "lessons", ObjType::List)?;
        Ok(())
    }

    /// Renames a module.
    pub fn rename_module<T: Transactable>(tx: &mut T, module: ItemId, title: &str) -> Result<()> {
        let (_, obj) = find_module(tx, module)?;
        tx.put(&obj, "title", title)?;
        Ok(())
    }

    /// Removes a module (its lesson documents are not deleted).
    pub fn remove_module<T: Transactable>(tx: &mut T, module: ItemId) -> Result<()> {
        let list = modules_list(tx)?;
        let (index, _) = find_module(tx, module)?;
        tx.delete(&list, index)?;
        Ok(())
    }

    /// Places `lesson` in `module` at `index` (or at the end), removing it from wherever it
    /// was before, so a lesson appears once in a course.
    pub fn place_lesson<T: Transactable>(
        tx: &mut T,
        module: ItemId,
        lesson: DocId,
        index: Option<usize>,
    ) -> Result<()> {
        let (_, target) = find_module(tx, module)?;
        Self::remove_lesson(tx, lesson)?;
        let lessons = access::object(tx, &target, "lessons", ObjType::List, "module")?;
        let len = tx.length(&lessons);
        let at = index.unwrap_or(len).min(len);
        tx.insert(&lessons, at, lesson.to_string())?;
        Ok(())
    }

    /// Removes `lesson` from every module; returns whether it was found.
    pub fn remove_lesson<T: Transactable>(tx: &mut T, lesson: DocId) -> Result<bool> {
        let list = modules_list(tx)?;
        let wanted = lesson.to_string();
        let mut found = false;
        for (obj, path) in access::list_maps(tx, &list, "modules")? {
            let lessons = access::object(tx, &obj, "lessons", ObjType::List, &path)?;
            let items = access::list_strings(tx, &lessons, &path)?;
            for (i, item) in items.iter().enumerate().rev() {
                if *item == wanted {
                    tx.delete(&lessons, i)?;
                    found = true;
                }
            }
        }
        Ok(found)
    }
}

fn modules_list<R: ReadDoc>(doc: &R) -> Result<ObjId> {
    header::expect_kind(doc, DocKind::Course)?;
    access::object(doc, &ROOT, "modules", ObjType::List, "")
}

fn find_module<R: ReadDoc>(doc: &R, module: ItemId) -> Result<(usize, ObjId)> {
    let list = modules_list(doc)?;
    access::find_by_id(doc, &list, &module.to_string())?.ok_or_else(|| ModelError::NotFound {
        what: "module",
        id: module.to_string(),
    })
}
