//! What the store indexes about each document: the list-view row and the full-text entries.

use automerge::{AutoCommit, ReadDoc};
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
    let described = describe(doc, &header)?;
    Ok(row(doc, header, described, now))
}

/// The index row and every full-text entry of `doc` (what [`meta`] and [`fts_all`] give),
/// reading the document once where its kind allows: for a document that arrives whole.
pub(crate) fn meta_and_fts(
    doc: &mut AutoCommit,
    now: Timestamp,
) -> Result<(DocMeta, Vec<FtsEntry>)> {
    // The typed readers check the whole header themselves; peek at the kind to pick one.
    let kind = match doc.get(automerge::ROOT, "kind") {
        Ok(Some((automerge::Value::Scalar(s), _))) => s.as_str().and_then(|k| k.parse().ok()),
        _ => None,
    };
    let (header, described, fts) = match kind {
        Some(DocKind::Note) => {
            let n = Note::read(&*doc)?;
            (n.header.clone(), describe_note(&n), one(n.title, n.body))
        }
        Some(DocKind::JournalEntry) => {
            let j = JournalEntry::read(&*doc)?;
            (j.header.clone(), describe_journal(&j), one(j.title, j.body))
        }
        Some(DocKind::Course) => {
            let c = Course::read(&*doc)?;
            (
                c.header.clone(),
                describe_course(&c),
                one(c.title, c.summary),
            )
        }
        Some(DocKind::Charter) => {
            let c = Charter::read(&*doc)?;
            (
                c.header.clone(),
                describe_charter(&c),
                one(c.name, c.purpose),
            )
        }
        Some(DocKind::Lesson) => {
            let l = Lesson::read(&*doc)?;
            let described = (
                l.title.clone(),
                Some(l.course),
                l.created_at,
                json!({ "checklist": l.checklist.len(), "questions": l.questions.len() }),
            );
            (l.header, described, one(l.title, l.body))
        }
        Some(DocKind::Thread) => {
            let t = Thread::read(&*doc)?;
            let described = describe_thread(
                &t.title,
                t.lesson,
                t.created_at,
                t.kind,
                t.posts.len(),
                t.accepted,
                t.anchor.is_some(),
                t.created_by,
            );
            (t.header.clone(), described, fts_thread(t))
        }
        _ => {
            let header = read_header(doc)?;
            let described = describe(doc, &header)?;
            let fts = fts_of(doc, &header)?;
            (header, described, fts)
        }
    };
    let fts = if header.deleted {
        Vec::new()
    } else {
        searchable_entries(fts)
    };
    Ok((row(doc, header, described, now), fts))
}

fn row(doc: &mut AutoCommit, header: Header, described: Described, now: Timestamp) -> DocMeta {
    let heads = doc.get_heads().into_iter().map(|h| h.0).collect();
    let (title, parent, created_at, summary) = described;
    DocMeta {
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
    }
}

fn one(title: String, body: String) -> Vec<FtsEntry> {
    vec![FtsEntry {
        part: String::new(),
        title,
        body,
    }]
}

fn describe_note(n: &Note) -> Described {
    (
        n.title.clone(),
        n.source,
        n.created_at,
        json!({ "tags": n.tags }),
    )
}

fn describe_journal(j: &JournalEntry) -> Described {
    (
        j.title.clone(),
        j.shared_from,
        j.created_at,
        json!({ "tags": j.tags, "shared_as": j.shared_as }),
    )
}

fn describe_course(c: &Course) -> Described {
    let lessons: usize = c.modules.iter().map(|m| m.lessons.len()).sum();
    (
        c.title.clone(),
        None,
        c.created_at,
        json!({ "modules": c.modules.len(), "lessons": lessons }),
    )
}

#[allow(
    clippy::too_many_arguments,
    reason = "a thread's row from either its summary or a full read"
)]
fn describe_thread(
    title: &str,
    lesson: Option<cohort_model::DocId>,
    created_at: Timestamp,
    kind: cohort_model::ThreadKind,
    posts: usize,
    accepted: Option<cohort_model::ItemId>,
    anchored: bool,
    created_by: cohort_model::PersonId,
) -> Described {
    (
        title.to_owned(),
        lesson,
        created_at,
        json!({
            "thread_kind": kind,
            "posts": posts,
            "accepted": accepted,
            "anchored": anchored,
            "created_by": created_by,
        }),
    )
}

/// A thread's entries: one per post that is not deleted; the title is indexed once, with the
/// opening post, so a title match finds the thread once rather than once per post.
fn fts_thread(t: Thread) -> Vec<FtsEntry> {
    let title = t.title;
    t.posts
        .into_iter()
        .enumerate()
        .filter(|(_, p)| !p.deleted)
        .map(|(i, p)| FtsEntry {
            part: p.id.to_string(),
            title: if i == 0 { title.clone() } else { String::new() },
            body: p.body,
        })
        .collect()
}

fn describe_charter(c: &Charter) -> Described {
    (
        c.name.clone(),
        None,
        c.created_at,
        json!({ "milestones": c.milestones.len() }),
    )
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
        DocKind::Charter => describe_charter(&Charter::read(doc)?),
        DocKind::Membership => {
            let m = Membership::read(doc)?;
            (
                "Membership".to_owned(),
                None,
                m.entries.first().map(|e| e.at).unwrap_or_default(),
                json!({ "entries": m.entries.len() }),
            )
        }
        DocKind::Course => describe_course(&Course::read(doc)?),
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
            describe_thread(
                &t.title,
                t.lesson,
                t.created_at,
                t.kind,
                t.post_count,
                t.accepted,
                t.anchored,
                t.created_by,
            )
        }
        DocKind::Note => describe_note(&Note::read_without_body(doc)?),
        DocKind::JournalEntry => describe_journal(&JournalEntry::read_without_body(doc)?),
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
    let header = read_header(doc)?;
    if header.deleted {
        return Ok(Vec::new());
    }
    Ok(searchable_entries(fts_of(doc, &header)?))
}

fn searchable_entries(mut entries: Vec<FtsEntry>) -> Vec<FtsEntry> {
    for e in &mut entries {
        e.title = searchable(&e.title);
        e.body = searchable(&e.body);
    }
    entries
}

fn fts_of(doc: &AutoCommit, header: &Header) -> Result<Vec<FtsEntry>> {
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
        DocKind::Thread => fts_thread(Thread::read(doc)?),
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
