//! What the store indexes about each document: the list-view row and the full-text entries.

use automerge::AutoCommit;
use cohort_model::{
    Charter, Course, DocKind, Header, JournalEntry, Lesson, Membership, Note, Profile, Progress,
    Thread, Timestamp, read_header,
};
use cohort_store::{DocMeta, FtsEntry};
use serde_json::json;

use crate::error::Result;

/// The index row of `doc` as of now.
pub(crate) fn meta(doc: &mut AutoCommit, now: Timestamp) -> Result<DocMeta> {
    let header = read_header(doc)?;
    let heads = doc.get_heads().into_iter().map(|h| h.0).collect();
    let (title, parent, created_at, summary) = describe(doc, &header)?;
    Ok(DocMeta {
        id: header.id,
        space: header.space,
        kind: header.kind,
        title,
        parent,
        created_at,
        updated_at: now,
        deleted: header.deleted,
        summary: summary.to_string(),
        heads,
    })
}

type Described = (
    String,
    Option<cohort_model::DocId>,
    Timestamp,
    serde_json::Value,
);

fn describe(doc: &AutoCommit, header: &Header) -> Result<Described> {
    Ok(match header.kind {
        DocKind::Profile => {
            let p = Profile::read(doc)?;
            (
                p.display_name,
                None,
                Timestamp(0),
                json!({ "person": p.person, "devices": p.devices.len() }),
            )
        }
        DocKind::Charter => {
            let c = Charter::read(doc)?;
            (
                c.name,
                None,
                c.created_at,
                json!({ "milestones": c.milestones.len() }),
            )
        }
        DocKind::Membership => {
            let m = Membership::read(doc)?;
            (
                "Membership".to_owned(),
                None,
                m.entries.first().map(|e| e.at).unwrap_or_default(),
                json!({ "entries": m.entries.len() }),
            )
        }
        DocKind::Course => {
            let c = Course::read(doc)?;
            let lessons: usize = c.modules.iter().map(|m| m.lessons.len()).sum();
            (
                c.title,
                None,
                c.created_at,
                json!({ "modules": c.modules.len(), "lessons": lessons }),
            )
        }
        DocKind::Lesson => {
            let l = Lesson::summary(doc)?;
            (
                l.title,
                Some(l.course),
                l.created_at,
                json!({ "checklist": l.checklist, "questions": l.questions }),
            )
        }
        DocKind::Thread => {
            let t = Thread::summary(doc)?;
            (
                t.title,
                t.lesson,
                t.created_at,
                json!({
                    "thread_kind": t.kind,
                    "posts": t.post_count,
                    "accepted": t.accepted,
                    "anchored": t.anchored,
                    "created_by": t.created_by,
                }),
            )
        }
        DocKind::Note => {
            let n = Note::read(doc)?;
            (n.title, n.source, n.created_at, json!({ "tags": n.tags }))
        }
        DocKind::JournalEntry => {
            let j = JournalEntry::read(doc)?;
            (
                j.title,
                j.shared_from,
                j.created_at,
                json!({ "tags": j.tags, "shared_as": j.shared_as }),
            )
        }
        DocKind::Progress => {
            let p = Progress::read(doc)?;
            let done = p
                .lessons
                .values()
                .filter(|l| l.completed_at.is_some())
                .count();
            (
                "Progress".to_owned(),
                None,
                Timestamp(0),
                json!({ "learner": p.learner, "completed": done }),
            )
        }
    })
}

/// `text` without the store's snippet markers, which would otherwise turn into false
/// highlights (they separate words either way, so a space indexes the same).
fn searchable(text: &str) -> String {
    text.replace(cohort_store::SNIPPET_START, " ")
        .replace(cohort_store::SNIPPET_END, " ")
}

/// Every full-text entry of `doc` (empty for kinds that are not searched).
pub(crate) fn fts_all(doc: &AutoCommit) -> Result<Vec<FtsEntry>> {
    let mut entries = fts_all_raw(doc)?;
    for e in &mut entries {
        e.title = searchable(&e.title);
        e.body = searchable(&e.body);
    }
    Ok(entries)
}

fn fts_all_raw(doc: &AutoCommit) -> Result<Vec<FtsEntry>> {
    let header = read_header(doc)?;
    if header.deleted {
        return Ok(Vec::new());
    }
    let one = |title: String, body: String| {
        vec![FtsEntry {
            part: String::new(),
            title,
            body,
        }]
    };
    Ok(match header.kind {
        DocKind::Course => {
            let c = Course::read(doc)?;
            one(c.title, c.summary)
        }
        DocKind::Lesson => {
            let l = Lesson::read(doc)?;
            one(l.title, l.body)
        }
        DocKind::Note => {
            let n = Note::read(doc)?;
            one(n.title, n.body)
        }
        DocKind::JournalEntry => {
            let j = JournalEntry::read(doc)?;
            one(j.title, j.body)
        }
        DocKind::Charter => {
            let c = Charter::read(doc)?;
            one(c.name, c.purpose)
        }
        DocKind::Thread => {
            // The title is indexed once, with the opening post, so a title match finds the
            // thread once rather than once per post.
            let t = Thread::read(doc)?;
            t.posts
                .into_iter()
                .enumerate()
                .filter(|(_, p)| !p.deleted)
                .map(|(i, p)| FtsEntry {
                    part: p.id.to_string(),
                    title: if i == 0 {
                        t.title.clone()
                    } else {
                        String::new()
                    },
                    body: p.body,
                })
                .collect()
        }
        DocKind::Profile | DocKind::Membership | DocKind::Progress => Vec::new(),
    })
}

/// The full-text entry of one post of a thread (a reply or an edited post).
pub(crate) fn fts_post(doc: &AutoCommit, post: cohort_model::ItemId) -> Result<FtsEntry> {
    let p = Thread::read_post(doc, post)?;
    let t = Thread::summary(doc)?;
    let first = Thread::first_post(doc)? == post;
    Ok(FtsEntry {
        part: post.to_string(),
        title: if first {
            searchable(&t.title)
        } else {
            String::new()
        },
        body: if p.deleted {
            String::new()
        } else {
            searchable(&p.body)
        },
    })
}
