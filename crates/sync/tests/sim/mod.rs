//! Test helpers shared by the engine tests and the simulation: an in-memory document store
//! with a "disk" that only `Persist` effects and local edits write to, a static membership
//! table as the authorizer, and a simulated network of engines.
#![allow(dead_code)] // each test crate uses a different part of the helpers

pub mod net;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ObjType, ROOT, ReadDoc};
use cohort_model::{DocId, SpaceId};
use cohort_sync::DeviceId;
use cohort_sync::engine::{Authorizer, DocStore, Effect, Whole, load_whole};

/// The value of a helper step that cannot fail in these tests (a failure is a test bug).
pub fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("test helper step failed: {e:?}"),
    }
}

/// A device id from a small number.
pub fn device(n: u8) -> DeviceId {
    DeviceId([n; 32])
}

/// A space id from a small number.
pub fn space(n: u8) -> SpaceId {
    SpaceId::from_bytes([n; 16])
}

/// A document of one space, in memory and as persisted bytes.
pub struct StoredDoc {
    pub space: SpaceId,
    pub doc: AutoCommit,
    /// Every chunk written so far (what a restart reloads).
    pub disk: Vec<u8>,
}

/// A document a peer sent whole, kept as sent until it is needed (a host that loads and
/// checks documents after acknowledging them).
pub struct KeptDoc {
    pub space: SpaceId,
    pub bytes: Vec<u8>,
    pub heads: Vec<ChangeHash>,
    /// Whether a `Persist` effect wrote it (what a restart keeps).
    pub on_disk: bool,
}

/// The host's documents: scoped by space, with a disk.
pub struct MemStore {
    pub actor: ActorId,
    pub docs: BTreeMap<DocId, StoredDoc>,
    /// Whether documents sent whole are kept unloaded ([`DocStore::keep_whole`]).
    pub keeps: bool,
    pub kept: BTreeMap<DocId, KeptDoc>,
}

impl MemStore {
    pub fn new(me: DeviceId) -> Self {
        MemStore {
            actor: ActorId::from(&me.0[..16]),
            docs: BTreeMap::new(),
            keeps: false,
            kept: BTreeMap::new(),
        }
    }

    /// One that keeps documents sent whole unloaded until they are needed.
    pub fn keeping(me: DeviceId) -> Self {
        MemStore {
            keeps: true,
            ..MemStore::new(me)
        }
    }

    /// Loads a kept document (it becomes an ordinary one), or drops it if its bytes do not
    /// load strictly to the heads it came with. Whether it is now held.
    pub fn ingest(&mut self, id: DocId) -> bool {
        let Some(k) = self.kept.remove(&id) else {
            return self.docs.contains_key(&id);
        };
        let Ok(mut doc) = load_whole(&k.bytes) else {
            return false;
        };
        let mut heads = doc.get_heads();
        heads.sort();
        if heads != k.heads {
            return false;
        }
        let disk = if k.on_disk { k.bytes } else { Vec::new() };
        self.docs.insert(
            id,
            StoredDoc {
                space: k.space,
                doc: doc.with_actor(self.actor.clone()),
                disk,
            },
        );
        true
    }

    /// Loads every kept document.
    pub fn ingest_all(&mut self) {
        let ids: Vec<DocId> = self.kept.keys().copied().collect();
        for id in ids {
            self.ingest(id);
        }
    }

    fn new_doc(&self) -> AutoCommit {
        AutoCommit::new().with_actor(self.actor.clone())
    }

    /// Creates a document with a title and a body text, persisting it.
    pub fn create_local(&mut self, space: SpaceId, id: DocId, title: &str, body: &str) {
        let mut doc = self.new_doc();
        ok(doc.put(ROOT, "title", title));
        let text = ok(doc.put_object(ROOT, "body", ObjType::Text));
        ok(doc.splice_text(&text, 0, 0, body));
        let disk = doc.save();
        self.docs.insert(id, StoredDoc { space, doc, disk });
    }

    /// Splices `insert` into the body at a position picked from `pick` (or puts a key when
    /// the document has no body yet), persisting the change.
    pub fn edit_local(&mut self, id: DocId, pick: usize, delete: bool, insert: &str) {
        let Some(d) = self.docs.get_mut(&id) else {
            return;
        };
        let before = d.doc.get_heads();
        match ok(d.doc.get(ROOT, "body")) {
            Some((automerge::Value::Object(ObjType::Text), text)) => {
                let len = d.doc.length(&text);
                let pos = pick % (len + 1);
                let del = if delete && pos < len { 1 } else { 0 };
                ok(d.doc.splice_text(&text, pos, del, insert));
            }
            _ => {
                ok(d.doc.put(ROOT, format!("k{}", pick % 7), insert));
            }
        }
        let chunk = d.doc.save_after(&before);
        d.disk.extend_from_slice(&chunk);
    }

    /// Carries out a `Persist` effect.
    pub fn persist(&mut self, id: DocId, since: &[ChangeHash]) {
        if let Some(k) = self.kept.get_mut(&id) {
            k.on_disk = true;
        }
        if let Some(d) = self.docs.get_mut(&id) {
            let chunk = d.doc.save_after(since);
            d.disk.extend_from_slice(&chunk);
        }
    }

    /// What a restart leaves: every document reloaded from its disk bytes (documents never
    /// persisted are gone).
    pub fn reload(&mut self) {
        self.kept.retain(|_, k| k.on_disk);
        let actor = self.actor.clone();
        let docs = std::mem::take(&mut self.docs);
        for (id, d) in docs {
            if d.disk.is_empty() {
                continue;
            }
            let mut doc = AutoCommit::new().with_actor(actor.clone());
            ok(doc.load_incremental(&d.disk));
            self.docs.insert(
                id,
                StoredDoc {
                    space: d.space,
                    doc,
                    disk: d.disk,
                },
            );
        }
    }

    /// Sorted heads of every document of `space` (ignoring empty ones).
    pub fn heads_of(&mut self, space: SpaceId) -> BTreeMap<DocId, Vec<ChangeHash>> {
        self.ingest_all();
        self.docs
            .iter_mut()
            .filter(|(_, d)| d.space == space)
            .map(|(id, d)| {
                let mut h = d.doc.get_heads();
                h.sort();
                (*id, h)
            })
            .filter(|(_, h)| !h.is_empty())
            .collect()
    }

    pub fn docs_in(&mut self, space: SpaceId) -> Vec<DocId> {
        self.ingest_all();
        self.docs
            .iter()
            .filter(|(_, d)| d.space == space)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Applies the store-related effects (`Persist`).
    pub fn apply(&mut self, effects: &[Effect]) {
        for e in effects {
            if let Effect::Persist { doc, since, .. } = e {
                self.persist(*doc, since);
            }
        }
    }
}

impl DocStore for MemStore {
    fn space_heads(&mut self, space: SpaceId) -> Vec<(DocId, Vec<ChangeHash>)> {
        let mut out: Vec<(DocId, Vec<ChangeHash>)> = self
            .docs
            .iter_mut()
            .filter(|(_, d)| d.space == space)
            .map(|(id, d)| (*id, d.doc.get_heads()))
            .collect();
        out.extend(
            self.kept
                .iter()
                .filter(|(_, k)| k.space == space)
                .map(|(id, k)| (*id, k.heads.clone())),
        );
        out
    }

    fn heads(&mut self, space: SpaceId, doc: DocId) -> Option<Vec<ChangeHash>> {
        if let Some(k) = self.kept.get(&doc) {
            return (k.space == space).then(|| k.heads.clone());
        }
        self.doc_mut(space, doc).map(|d| d.get_heads())
    }

    fn saved(&mut self, space: SpaceId, doc: DocId) -> Option<(Vec<u8>, Vec<ChangeHash>)> {
        if let Some(k) = self.kept.get(&doc) {
            return (k.space == space).then(|| (k.bytes.clone(), k.heads.clone()));
        }
        self.doc_mut(space, doc).map(|d| (d.save(), d.get_heads()))
    }

    fn keep_whole(&mut self, space: SpaceId, docs: Vec<Whole>) -> Option<Vec<(DocId, bool)>> {
        if !self.keeps {
            return None;
        }
        Some(
            docs.into_iter()
                .map(|w| {
                    if self.docs.contains_key(&w.doc) || self.kept.contains_key(&w.doc) {
                        return (w.doc, false);
                    }
                    self.kept.insert(
                        w.doc,
                        KeptDoc {
                            space,
                            bytes: w.bytes,
                            heads: w.heads,
                            on_disk: false,
                        },
                    );
                    (w.doc, true)
                })
                .collect(),
        )
    }

    fn doc_mut(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        if self.kept.get(&doc).is_some_and(|k| k.space == space) {
            self.ingest(doc);
        }
        self.docs
            .get_mut(&doc)
            .filter(|d| d.space == space)
            .map(|d| &mut d.doc)
    }

    fn create_doc(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        if self.kept.get(&doc).is_some_and(|k| k.space == space) {
            self.ingest(doc);
        }
        if self.docs.contains_key(&doc) || self.kept.contains_key(&doc) {
            return self.doc_mut(space, doc);
        }
        let new = self.new_doc();
        let d = self.docs.entry(doc).or_insert(StoredDoc {
            space,
            doc: new,
            disk: Vec::new(),
        });
        Some(&mut d.doc)
    }
}

/// Who is in which space (ground truth, shared by every device of a simulation).
pub type Members = Rc<BTreeMap<SpaceId, BTreeSet<DeviceId>>>;

/// Devices that join their person's spaces while the simulation runs (a device linked with
/// a ticket) and leave them again (unlinked): the effect of the membership logs, which in
/// the simulation every device learns at once.
#[derive(Debug, Default)]
pub struct Links {
    /// (space, device) pairs the ground truth lists but that are not members until linked.
    pub pending: BTreeSet<(SpaceId, DeviceId)>,
    /// When each pending pair was linked.
    pub linked: BTreeMap<(SpaceId, DeviceId), u64>,
    /// When a pair was unlinked: not a member from then on.
    pub unlinked: BTreeMap<(SpaceId, DeviceId), u64>,
}

impl Links {
    /// Whether the ground truth's `device` is a member of `space` at time `at`.
    pub fn live(&self, space: SpaceId, device: DeviceId, at: u64) -> bool {
        let key = (space, device);
        let joined =
            !self.pending.contains(&key) || self.linked.get(&key).is_some_and(|t| *t <= at);
        let left = self.unlinked.get(&key).is_some_and(|t| *t <= at);
        joined && !left
    }
}

/// The links of one simulation, shared by its devices.
pub type SharedLinks = Rc<RefCell<Links>>;

/// The redemption a linking device presents for `space` (only a real one is admitted).
pub fn link_token(space: SpaceId, device: DeviceId) -> Vec<u8> {
    format!("link {space:?} {device:?}").into_bytes()
}

/// A device's membership view: the ground truth, plus spaces it wrongly believes it shares
/// (an outsider trying its luck).
pub struct SimAuth {
    pub me: DeviceId,
    pub members: Members,
    pub claims: BTreeSet<SpaceId>,
    /// Devices this peer admitted itself (its own view of membership grows).
    pub admitted: BTreeSet<(SpaceId, DeviceId)>,
    /// Admission requests this peer presents (it holds an invite).
    pub requests: BTreeMap<SpaceId, Vec<u8>>,
    /// Devices linked and unlinked at run time (empty unless the simulation links any).
    pub links: SharedLinks,
    /// Spaces this device expects to be admitted to (it is being linked): until then it
    /// trusts their live members.
    pub joining: BTreeSet<SpaceId>,
}

impl SimAuth {
    pub fn new(me: DeviceId, members: Members) -> Self {
        SimAuth {
            me,
            members,
            claims: BTreeSet::new(),
            admitted: BTreeSet::new(),
            requests: BTreeMap::new(),
            links: SharedLinks::default(),
            joining: BTreeSet::new(),
        }
    }

    fn believes_member(&self, space: SpaceId, device: DeviceId) -> bool {
        let truth = self
            .members
            .get(&space)
            .is_some_and(|m| m.contains(&device))
            && self.links.borrow().live(space, device, u64::MAX);
        truth
            || self.admitted.contains(&(space, device))
            || (device == self.me && self.claims.contains(&space))
    }
}

impl Authorizer for SimAuth {
    fn may_read(&self, space: SpaceId, device: DeviceId) -> bool {
        if self.believes_member(space, self.me) {
            return self.believes_member(space, device);
        }
        // Being linked: the person's live devices are trusted until then (not after an
        // unlink).
        self.joining.contains(&space)
            && !self.links.borrow().linked.contains_key(&(space, self.me))
            && self.believes_member(space, device)
    }

    fn shared_spaces(&self, device: DeviceId) -> Vec<SpaceId> {
        let mut spaces: BTreeSet<SpaceId> = self
            .members
            .iter()
            .filter(|(_, m)| m.contains(&device))
            .map(|(s, _)| *s)
            .collect();
        spaces.extend(self.claims.iter().copied());
        spaces
            .into_iter()
            .filter(|s| self.may_read(*s, device))
            .collect()
    }

    fn admission_request(&self, space: SpaceId) -> Option<Vec<u8>> {
        if self.believes_member(space, self.me) && !self.claims.contains(&space) {
            return None;
        }
        self.requests.get(&space).cloned()
    }
}
