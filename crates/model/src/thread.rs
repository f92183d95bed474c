//! Discussion threads: a question, idea or how-to with posts, reactions, replies, an
//! accepted answer, and an optional anchor to a passage of a lesson.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value};
use serde::{Deserialize, Serialize};

use crate::access::{self, join};
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::lesson::Anchor;
use crate::text::{self, Splice};
use crate::{DocId, DocKind, ItemId, PersonId, SpaceId, Timestamp};

/// What a thread is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ThreadKind {
    /// A question that can have an accepted answer.
    Question,
    /// An idea to discuss.
    Idea,
    /// A how-to: steps someone worked out.
    HowTo,
}

impl ThreadKind {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ThreadKind::Question => "question",
            ThreadKind::Idea => "idea",
            ThreadKind::HowTo => "how_to",
        }
    }
}

impl fmt::Display for ThreadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ThreadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "question" => Ok(ThreadKind::Question),
            "idea" => Ok(ThreadKind::Idea),
            "how_to" | "how-to" | "howto" => Ok(ThreadKind::HowTo),
            other => Err(format!(
                "unknown thread kind {other:?} (expected question, idea or how-to)"
            )),
        }
    }
}

/// A thread as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Thread {
    /// The document header.
    pub header: Header,
    /// Question, idea or how-to.
    pub kind: ThreadKind,
    /// Title.
    pub title: String,
    /// The lesson under discussion, if any.
    pub lesson: Option<DocId>,
    /// The passage of the lesson the thread is anchored to, if any.
    pub anchor: Option<Anchor>,
    /// Posts in the order they were added (the first is the opening post).
    pub posts: Vec<Post>,
    /// The accepted answer of a question.
    pub accepted: Option<ItemId>,
    /// Who opened the thread.
    pub created_by: PersonId,
    /// When.
    pub created_at: Timestamp,
}

/// One post in a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Post {
    /// Id inside the thread.
    pub id: ItemId,
    /// The person who wrote it.
    pub author: PersonId,
    /// Markdown body.
    pub body: String,
    /// When it was written.
    pub created_at: Timestamp,
    /// When it was last edited.
    pub edited_at: Option<Timestamp>,
    /// The post this replies to.
    pub reply_to: Option<ItemId>,
    /// Emoji -> people who reacted with it.
    pub reactions: BTreeMap<String, Vec<PersonId>>,
    /// Whether the author removed it (the post keeps its place so replies still make sense).
    pub deleted: bool,
}

/// The fields of a thread that list views need, read without reading every post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ThreadSummary {
    /// The document header.
    pub header: Header,
    /// Question, idea or how-to.
    pub kind: ThreadKind,
    /// Title.
    pub title: String,
    /// The lesson under discussion.
    pub lesson: Option<DocId>,
    /// Whether the thread is anchored to a passage.
    pub anchored: bool,
    /// Number of posts, the opening post included.
    pub post_count: usize,
    /// The accepted answer of a question.
    pub accepted: Option<ItemId>,
    /// Who opened the thread.
    pub created_by: PersonId,
    /// When.
    pub created_at: Timestamp,
}

/// A post to add.
#[derive(Debug, Clone)]
pub struct NewPost<'a> {
    /// Id inside the thread.
    pub id: ItemId,
    /// The author.
    pub author: PersonId,
    /// Markdown body.
    pub body: &'a str,
    /// When.
    pub at: Timestamp,
    /// The post this replies to.
    pub reply_to: Option<ItemId>,
}

/// What a new thread starts with.
#[derive(Debug, Clone)]
pub struct NewThread<'a> {
    /// The new document's id.
    pub id: DocId,
    /// The space.
    pub space: SpaceId,
    /// Question, idea or how-to.
    pub kind: ThreadKind,
    /// Title.
    pub title: &'a str,
    /// The lesson under discussion.
    pub lesson: Option<DocId>,
    /// A passage of that lesson.
    pub anchor: Option<&'a Anchor>,
    /// The opening post (its author and time are the thread's).
    pub first_post: NewPost<'a>,
}

/// The longest emoji/reaction name accepted.
const MAX_REACTION_LEN: usize = 32;

impl Thread {
    /// Writes a new thread into an empty document.
    pub fn create<T: Transactable>(tx: &mut T, new: &NewThread<'_>) -> Result<()> {
        header::write(tx, DocKind::Thread, new.id, new.space)?;
        tx.put(ROOT, "thread_kind", new.kind.as_str())?;
        tx.put(ROOT, "title", new.title)?;
        if let Some(lesson) = new.lesson {
            tx.put(ROOT, "lesson", lesson.to_string())?;
        }
        if let Some(anchor) = new.anchor {
            if Some(anchor.lesson) != new.lesson {
                return Err(ModelError::InvalidEdit(
                    "an anchor must point into the thread's lesson".into(),
                ));
            }
            let obj = tx.put_object(ROOT, "anchor", ObjType::Map)?;
            tx.put(&obj, "lesson", anchor.lesson.to_string())?;
            tx.put(&obj, "start", anchor.start.as_str())?;
            tx.put(&obj, "end", anchor.end.as_str())?;
            tx.put(&obj, "quote", anchor.quote.as_str())?;
        }
        // Posts are a map keyed by post id (so finding one is a lookup, and concurrent
        // replies never touch the same key), shown in (created_at, id) order.
        tx.put_object(ROOT, "posts", ObjType::Map)?;
        tx.put(ROOT, "first_post", new.first_post.id.to_string())?;
        tx.put(ROOT, "created_by", new.first_post.author.to_string())?;
        tx.put(ROOT, "created_at", new.first_post.at.millis())?;
        let first = NewPost {
            reply_to: None,
            ..new.first_post.clone()
        };
        Self::reply(tx, &first)
    }

    /// Reads and validates a thread.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Thread> {
        let header = header::expect_kind(doc, DocKind::Thread)?;
        let root = access::Fields::read(doc, &ROOT, "");
        let anchor = match root.opt_object("anchor", ObjType::Map)? {
            Some(obj) => Some(Anchor {
                lesson: access::parsed(doc, &obj, "lesson", "anchor")?,
                start: access::string(doc, &obj, "start", "anchor")?,
                end: access::string(doc, &obj, "end", "anchor")?,
                quote: access::opt_string(doc, &obj, "quote", "anchor")?.unwrap_or_default(),
            }),
            None => None,
        };
        let map = root.object("posts", ObjType::Map)?;
        let mut posts = Vec::new();
        for item in doc.map_range(&map, ..) {
            let id = item.id();
            let key = item.key;
            let path = join("posts", &key);
            let obj = match (Value::from(item.value), id) {
                (Value::Object(ObjType::Map), obj) => obj,
                (_, _) => {
                    // Not a map: the same error the single-field reader gives.
                    access::object(doc, &map, &key, ObjType::Map, "posts")?;
                    continue;
                }
            };
            let post = read_post(doc, &obj, &path)?;
            if post.id.to_string() != key {
                return Err(ModelError::malformed(
                    join(&path, "id"),
                    "does not match its key",
                ));
            }
            posts.push(post);
        }
        let first: ItemId = root.parsed("first_post")?;
        // The opening post first, then the rest by time (ties broken by id, so every copy
        // shows the same order).
        posts.sort_by_key(|p| (p.id != first, p.created_at, p.id));
        if posts.first().map(|p| p.id) != Some(first) {
            return Err(ModelError::malformed("first_post", "names no post"));
        }
        Ok(Thread {
            header,
            kind: root.parsed("thread_kind")?,
            title: root.string("title")?,
            lesson: root.opt_parsed("lesson")?,
            anchor,
            posts,
            accepted: root.opt_parsed("accepted")?,
            created_by: root.parsed("created_by")?,
            created_at: Timestamp(root.int("created_at")?),
        })
    }

    /// Reads what list views need, without reading the posts.
    pub fn summary<R: ReadDoc>(doc: &R) -> Result<ThreadSummary> {
        let header = header::expect_kind(doc, DocKind::Thread)?;
        let map = access::object(doc, &ROOT, "posts", ObjType::Map, "")?;
        Ok(ThreadSummary {
            header,
            kind: access::parsed(doc, &ROOT, "thread_kind", "")?,
            title: access::string(doc, &ROOT, "title", "")?,
            lesson: access::opt_parsed(doc, &ROOT, "lesson", "")?,
            anchored: access::opt_object(doc, &ROOT, "anchor", ObjType::Map, "")?.is_some(),
            post_count: doc.length(&map),
            accepted: access::opt_parsed(doc, &ROOT, "accepted", "")?,
            created_by: access::parsed(doc, &ROOT, "created_by", "")?,
            created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
        })
    }

    /// The opening post's id.
    pub fn first_post<R: ReadDoc>(doc: &R) -> Result<ItemId> {
        header::expect_kind(doc, DocKind::Thread)?;
        access::parsed(doc, &ROOT, "first_post", "")
    }

    /// Reads only one post (cheaper than reading the whole thread).
    pub fn read_post<R: ReadDoc>(doc: &R, post: ItemId) -> Result<Post> {
        let (path, obj) = find_post(doc, post)?;
        read_post(doc, &obj, &path)
    }

    /// Adds a post. A `reply_to` must name an existing post.
    pub fn reply<T: Transactable>(tx: &mut T, post: &NewPost<'_>) -> Result<()> {
        let map = posts_map(tx)?;
        let key = post.id.to_string();
        if access::opt_object(tx, &map, &key, ObjType::Map, "posts")?.is_some() {
            return Err(ModelError::InvalidEdit(format!(
                "a post with id {} already exists",
                post.id
            )));
        }
        if let Some(parent) = post.reply_to {
            find_post(tx, parent)?;
        }
        let obj = tx.put_object(&map, key, ObjType::Map)?;
        tx.put(&obj, "id", post.id.to_string())?;
        tx.put(&obj, "author", post.author.to_string())?;
        access::put_text(tx, &obj, "body", post.body)?;
        tx.put(&obj, "created_at", post.at.millis())?;
        if let Some(parent) = post.reply_to {
            tx.put(&obj, "reply_to", parent.to_string())?;
        }
        tx.put_object(&obj, "reactions", ObjType::Map)?;
        Ok(())
    }

    /// Applies an editor splice to a post's body and records the edit time.
    pub fn splice_post<T: Transactable>(
        tx: &mut T,
        post: ItemId,
        splice: &Splice,
        at: Timestamp,
    ) -> Result<()> {
        let (path, obj) = find_post(tx, post)?;
        let body = access::object(tx, &obj, "body", ObjType::Text, &path)?;
        text::apply(tx, &body, splice)?;
        tx.put(&obj, "edited_at", at.millis())?;
        Ok(())
    }

    /// Replaces a post's body with the smallest edit that produces `body`.
    pub fn set_post_body<T: Transactable>(
        tx: &mut T,
        post: ItemId,
        body: &str,
        at: Timestamp,
    ) -> Result<()> {
        let (path, obj) = find_post(tx, post)?;
        access::update_text(tx, &obj, "body", body, &path)?;
        tx.put(&obj, "edited_at", at.millis())?;
        Ok(())
    }

    /// Marks a post deleted and clears its body; replies keep their place.
    pub fn delete_post<T: Transactable>(tx: &mut T, post: ItemId, at: Timestamp) -> Result<()> {
        Self::set_post_body(tx, post, "", at)?;
        let (_, obj) = find_post(tx, post)?;
        tx.put(&obj, "deleted", true)?;
        Ok(())
    }

    /// Adds (`on = true`) or removes `person`'s `reaction` to `post`.
    pub fn react<T: Transactable>(
        tx: &mut T,
        post: ItemId,
        reaction: &str,
        person: PersonId,
        on: bool,
    ) -> Result<()> {
        let reaction = reaction.trim();
        if reaction.is_empty()
            || reaction.len() > MAX_REACTION_LEN
            || reaction.contains(char::is_whitespace)
        {
            return Err(ModelError::InvalidEdit(format!(
                "a reaction is one emoji or word of at most {MAX_REACTION_LEN} bytes"
            )));
        }
        let (path, obj) = find_post(tx, post)?;
        let reactions = match access::opt_object(tx, &obj, "reactions", ObjType::Map, &path)? {
            Some(r) => r,
            None => tx.put_object(&obj, "reactions", ObjType::Map)?,
        };
        // One flat key per (person, reaction): concurrent reactions never conflict.
        let key = format!("{person}:{reaction}");
        if on {
            tx.put(&reactions, key, true)?;
        } else if access::flag(tx, &reactions, &key, &path)? {
            tx.delete(&reactions, key)?;
        }
        Ok(())
    }

    /// Accepts `post` as the answer of a question (or clears the accepted answer with `None`).
    pub fn accept<T: Transactable>(tx: &mut T, post: Option<ItemId>) -> Result<()> {
        header::expect_kind(tx, DocKind::Thread)?;
        let kind: ThreadKind = access::parsed(tx, &ROOT, "thread_kind", "")?;
        if kind != ThreadKind::Question {
            return Err(ModelError::InvalidEdit(format!(
                "only a question can have an accepted answer; this thread is a {kind}"
            )));
        }
        match post {
            Some(post) => {
                find_post(tx, post)?;
                if Self::first_post(tx)? == post {
                    return Err(ModelError::InvalidEdit(
                        "the question itself cannot be its accepted answer".into(),
                    ));
                }
                tx.put(ROOT, "accepted", post.to_string())?;
            }
            None => tx.put(ROOT, "accepted", automerge::ScalarValue::Null)?,
        }
        Ok(())
    }

    /// Sets the title.
    pub fn set_title<T: Transactable>(tx: &mut T, title: &str) -> Result<()> {
        header::expect_kind(tx, DocKind::Thread)?;
        tx.put(ROOT, "title", title)?;
        Ok(())
    }
}

fn posts_map<R: ReadDoc>(doc: &R) -> Result<ObjId> {
    header::expect_kind(doc, DocKind::Thread)?;
    access::object(doc, &ROOT, "posts", ObjType::Map, "")
}

/// The path and object of a post.
fn find_post<R: ReadDoc>(doc: &R, post: ItemId) -> Result<(String, ObjId)> {
    let map = posts_map(doc)?;
    let key = post.to_string();
    match access::opt_object(doc, &map, &key, ObjType::Map, "posts")? {
        Some(obj) => Ok((join("posts", &key), obj)),
        None => Err(ModelError::NotFound {
            what: "post",
            id: key,
        }),
    }
}

fn read_post<R: ReadDoc>(doc: &R, obj: &ObjId, path: &str) -> Result<Post> {
    let post = access::Fields::read(doc, obj, path);
    let mut reactions: BTreeMap<String, Vec<PersonId>> = BTreeMap::new();
    if let Some(map) = post.opt_object("reactions", ObjType::Map)? {
        let rpath = join(path, "reactions");
        let flags = access::Fields::read(doc, &map, &rpath);
        for key in flags.keys() {
            if !flags.flag(key)? {
                continue;
            }
            let (person, emoji) = key.split_once(':').ok_or_else(|| {
                ModelError::malformed(&rpath, format!("bad reaction key {key:?}"))
            })?;
            let person = person
                .parse::<PersonId>()
                .map_err(|e| ModelError::malformed(&rpath, e.to_string()))?;
            reactions.entry(emoji.to_owned()).or_default().push(person);
        }
    }
    Ok(Post {
        id: post.parsed("id")?,
        author: post.parsed("author")?,
        body: post.opt_string("body")?.unwrap_or_default(),
        created_at: Timestamp(post.int("created_at")?),
        edited_at: post.opt_int("edited_at")?.map(Timestamp),
        reply_to: post.opt_parsed("reply_to")?,
        reactions,
        deleted: post.flag("deleted")?,
    })
}
