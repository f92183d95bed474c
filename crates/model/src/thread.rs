//! Discussion threads: a question, idea or how-to with posts, reactions, replies, an
//! accepted answer, and an optional anchor to a passage of a lesson.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc};
use serde::{Deserialize, Serialize};

use crate::access::{self, join};
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::lesson::Anchor;
use crate::text::{self, Splice};
use crate::{DocId, DocKind, ItemId, PersonId, SpaceId, Timestamp};

/// What a thread is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        tx.put_object(ROOT, "posts", ObjType::List)?;
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
        let anchor = match access::opt_object(doc, &ROOT, "anchor", ObjType::Map, "")? {
            Some(obj) => Some(Anchor {
                lesson: access::parsed(doc, &obj, "lesson", "anchor")?,
                start: access::string(doc, &obj, "start", "anchor")?,
                end: access::string(doc, &obj, "end", "anchor")?,
                quote: access::opt_string(doc, &obj, "quote", "anchor")?.unwrap_or_default(),
            }),
            None => None,
        };
        let list = access::object(doc, &ROOT, "posts", ObjType::List, "")?;
        let mut posts = Vec::new();
        for (obj, path) in access::list_maps(doc, &list, "posts")? {
            posts.push(read_post(doc, &obj, &path)?);
        }
        Ok(Thread {
            header,
            kind: access::parsed(doc, &ROOT, "thread_kind", "")?,
            title: access::string(doc, &ROOT, "title", "")?,
            lesson: access::opt_parsed(doc, &ROOT, "lesson", "")?,
            anchor,
            posts,
            accepted: access::opt_parsed(doc, &ROOT, "accepted", "")?,
            created_by: access::parsed(doc, &ROOT, "created_by", "")?,
            created_at: Timestamp(access::int(doc, &ROOT, "created_at", "")?),
        })
    }

    /// Reads only one post (cheaper than reading the whole thread).
    pub fn read_post<R: ReadDoc>(doc: &R, post: ItemId) -> Result<Post> {
        let (index, obj) = find_post(doc, post)?;
        read_post(doc, &obj, &format!("posts[{index}]"))
    }

    /// Appends a post. A `reply_to` must name an existing post.
    pub fn reply<T: Transactable>(tx: &mut T, post: &NewPost<'_>) -> Result<()> {
        let list = posts_list(tx)?;
        if access::find_by_id(tx, &list, &post.id.to_string())?.is_some() {
            return Err(ModelError::InvalidEdit(format!(
                "a post with id {} already exists",
                post.id
            )));
        }
        if let Some(parent) = post.reply_to {
            find_post(tx, parent)?;
        }
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
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
        let (index, obj) = find_post(tx, post)?;
        let body = access::object(tx, &obj, "body", ObjType::Text, &format!("posts[{index}]"))?;
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
        let (index, obj) = find_post(tx, post)?;
        access::update_text(tx, &obj, "body", body, &format!("posts[{index}]"))?;
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
        let (index, obj) = find_post(tx, post)?;
        let path = format!("posts[{index}]");
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
                let (index, _) = find_post(tx, post)?;
                if index == 0 {
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

fn posts_list<R: ReadDoc>(doc: &R) -> Result<ObjId> {
    header::expect_kind(doc, DocKind::Thread)?;
    access::object(doc, &ROOT, "posts", ObjType::List, "")
}

fn find_post<R: ReadDoc>(doc: &R, post: ItemId) -> Result<(usize, ObjId)> {
    let list = posts_list(doc)?;
    access::find_by_id(doc, &list, &post.to_string())?.ok_or_else(|| ModelError::NotFound {
        what: "post",
        id: post.to_string(),
    })
}

fn read_post<R: ReadDoc>(doc: &R, obj: &ObjId, path: &str) -> Result<Post> {
    let mut reactions: BTreeMap<String, Vec<PersonId>> = BTreeMap::new();
    if let Some(map) = access::opt_object(doc, obj, "reactions", ObjType::Map, path)? {
        let rpath = join(path, "reactions");
        for key in access::keys(doc, &map) {
            if !access::flag(doc, &map, &key, &rpath)? {
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
        id: access::parsed(doc, obj, "id", path)?,
        author: access::parsed(doc, obj, "author", path)?,
        body: access::opt_string(doc, obj, "body", path)?.unwrap_or_default(),
        created_at: Timestamp(access::int(doc, obj, "created_at", path)?),
        edited_at: access::opt_int(doc, obj, "edited_at", path)?.map(Timestamp),
        reply_to: access::opt_parsed(doc, obj, "reply_to", path)?,
        reactions,
        deleted: access::flag(doc, obj, "deleted", path)?,
    })
}
