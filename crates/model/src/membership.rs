//! The membership log of a space: an append-only list of entries. This module holds the log's
//! structure; signatures and the authorizing fold over signed entries build on it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};

use crate::access::{self, join};
use crate::error::{ModelError, Result};
use crate::header::{self, Header};
use crate::{DocId, DocKind, ItemId, SpaceId, Timestamp};

/// What a membership entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The space was created.
    Create,
    /// A member was added with a role.
    AddMember,
    /// A member's role changed.
    ChangeRole,
    /// A member was removed.
    RemoveMember,
    /// A device was linked to a member.
    LinkDevice,
    /// A member unlinked one of their devices.
    UnlinkDevice,
    /// An invite was issued.
    InviteIssued,
    /// An invite was redeemed.
    InviteRedeemed,
}

impl EntryKind {
    const ALL: [EntryKind; 8] = [
        EntryKind::Create,
        EntryKind::AddMember,
        EntryKind::ChangeRole,
        EntryKind::RemoveMember,
        EntryKind::LinkDevice,
        EntryKind::UnlinkDevice,
        EntryKind::InviteIssued,
        EntryKind::InviteRedeemed,
    ];

    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Create => "create",
            EntryKind::AddMember => "add_member",
            EntryKind::ChangeRole => "change_role",
            EntryKind::RemoveMember => "remove_member",
            EntryKind::LinkDevice => "link_device",
            EntryKind::UnlinkDevice => "unlink_device",
            EntryKind::InviteIssued => "invite_issued",
            EntryKind::InviteRedeemed => "invite_redeemed",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EntryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown membership entry kind {s:?}"))
    }
}

/// A member's role in a space.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the cohort: edits courses, admits and removes members.
    Facilitator,
    /// Takes part: reads, discusses, writes notes.
    Learner,
    /// Reads only.
    Observer,
}

impl Role {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Facilitator => "facilitator",
            Role::Learner => "learner",
            Role::Observer => "observer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "facilitator" => Ok(Role::Facilitator),
            "learner" => Ok(Role::Learner),
            "observer" => Ok(Role::Observer),
            other => Err(format!(
                "unknown role {other:?} (expected facilitator, learner or observer)"
            )),
        }
    }
}

/// One log entry. `fields` carries the entry's arguments (member, role, device, invite key,
/// expiry...) as strings; `signature` is the signing device's signature over the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Entry {
    /// Id inside the log.
    pub id: ItemId,
    /// What the entry does.
    pub kind: EntryKind,
    /// The device that wrote it (its public identity, as text).
    pub author_device: String,
    /// When it was written.
    pub at: Timestamp,
    /// The entry's arguments.
    pub fields: BTreeMap<String, String>,
    /// Signature bytes (empty until entries are signed).
    pub signature: Vec<u8>,
}

/// A membership log as read from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Membership {
    /// The document header.
    pub header: Header,
    /// Readable entries in log order.
    pub entries: Vec<Entry>,
    /// Entries that could not be read, with why (never applied).
    pub unreadable: Vec<UnreadableEntry>,
}

/// A log entry that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UnreadableEntry {
    /// Its position in the log.
    pub index: usize,
    /// The malformed field, e.g. `entries[3].entry_kind`.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

fn read_entry<R: ReadDoc>(doc: &R, obj: &automerge::ObjId, path: &str) -> Result<Entry> {
    let mut fields = BTreeMap::new();
    if let Some(map) = access::opt_object(doc, obj, "fields", ObjType::Map, path)? {
        let fpath = join(path, "fields");
        for key in access::keys(doc, &map) {
            let value = access::string(doc, &map, &key, &fpath)?;
            fields.insert(key, value);
        }
    }
    let signature = match doc.get(obj, "signature")? {
        None => Vec::new(),
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Bytes(b) => b.clone(),
            _ => {
                return Err(ModelError::malformed(
                    join(path, "signature"),
                    "expected bytes",
                ));
            }
        },
        Some(_) => {
            return Err(ModelError::malformed(
                join(path, "signature"),
                "expected bytes",
            ));
        }
    };
    Ok(Entry {
        id: access::parsed(doc, obj, "id", path)?,
        kind: access::parsed(doc, obj, "entry_kind", path)?,
        author_device: access::string(doc, obj, "author_device", path)?,
        at: Timestamp(access::int(doc, obj, "at", path)?),
        fields,
        signature,
    })
}

impl Membership {
    /// Writes a new, empty log into an empty document.
    pub fn create<T: Transactable>(tx: &mut T, id: DocId, space: SpaceId) -> Result<()> {
        header::write(tx, DocKind::Membership, id, space)?;
        tx.put_object(ROOT, "entries", ObjType::List)?;
        Ok(())
    }

    /// Reads the log. An entry that cannot be read (a peer may write anything into the
    /// list) is set aside in [`Membership::unreadable`] rather than failing the whole log,
    /// so one bad entry can never hide the others; the log's own structure must be valid.
    pub fn read<R: ReadDoc>(doc: &R) -> Result<Membership> {
        let header = header::expect_kind(doc, DocKind::Membership)?;
        let list = access::object(doc, &ROOT, "entries", ObjType::List, "")?;
        let mut entries = Vec::new();
        let mut unreadable = Vec::new();
        for (index, item) in doc.list_range(&list, ..).enumerate() {
            let path = format!("entries[{index}]");
            let obj = item.id();
            let entry = match Value::from(item.value) {
                Value::Object(ObjType::Map) => read_entry(doc, &obj, &path),
                _ => Err(ModelError::malformed(&path, "expected a map")),
            };
            match entry {
                Ok(e) => entries.push(e),
                Err(ModelError::Malformed { path, problem }) => unreadable.push(UnreadableEntry {
                    index,
                    path,
                    problem,
                }),
                Err(other) => return Err(other),
            }
        }
        Ok(Membership {
            header,
            entries,
            unreadable,
        })
    }

    /// Appends an entry.
    pub fn append<T: Transactable>(tx: &mut T, entry: &Entry) -> Result<()> {
        header::expect_kind(tx, DocKind::Membership)?;
        let list = access::object(tx, &ROOT, "entries", ObjType::List, "")?;
        let obj = tx.insert_object(&list, tx.length(&list), ObjType::Map)?;
        tx.put(&obj, "id", entry.id.to_string())?;
        tx.put(&obj, "entry_kind", entry.kind.as_str())?;
        tx.put(&obj, "author_device", entry.author_device.as_str())?;
        tx.put(&obj, "at", entry.at.millis())?;
        let fields = tx.put_object(&obj, "fields", ObjType::Map)?;
        for (k, v) in &entry.fields {
            tx.put(&fields, k.as_str(), v.as_str())?;
        }
        tx.put(
            &obj,
            "signature",
            ScalarValue::Bytes(entry.signature.clone()),
        )?;
        Ok(())
    }
}
