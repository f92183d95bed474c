//! The core as host of the sans-IO sync engine: its documents ([`DocStore`]) and its view of
//! membership ([`Authorizer`]), and the handling of the engine's effects. A transport (the
//! network layer, or a test's in-memory pipe) feeds [`Core::sync_event`] with connection
//! events and writes the `Send` effects it returns.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use automerge::{AutoCommit, ChangeHash};
use cohort_model::{DocId, DocKind, Membership, PersonId, Role, SpaceId, Timestamp};
use cohort_store::{DocData, DocWrite, FtsUpdate, ListFilter, Received, Store, WriteBatch};
use cohort_sync::DeviceId;
use cohort_sync::engine::{Authorizer, Config, DocStore, Effect, Engine, Event, Millis, Whole};
use cohort_sync::membership::{Action, MembershipState};
use lru::LruCache;

use super::parallel::on_every_core;
use super::{Core, Loaded};
use crate::error::{CoreError, Result};
use crate::index;
use crate::sync_views::{SpaceSyncView, SyncNotice, SyncNoticeKind};
use crate::views::{ChangeEvent, MemberView};

/// Changes from a peer up to this many bytes (a keystroke, a reply) mark a document's
/// search rows stale instead of re-indexing it.
const SMALL_SYNCED_CHANGE: usize = 1024;

/// A batch bringing at least this many documents whole keeps them as sent, to load and
/// index after acknowledging them (see `received.rs`); fewer are made at once, so a single
/// new document from a peer is listed as soon as it arrives.
const KEEP_WHOLE_AT_LEAST: usize = 16;

/// The store key holding when each space was last in sync.
const SYNC_TIMES_KEY: &str = "sync.last_sync";
/// The first wait before offering a refused session again, and the longest.
const RETRY_FIRST_MS: i64 = 2_000;
const RETRY_MAX_MS: i64 = 60_000;

/// The sync engine and the state the core keeps for it.
pub(super) struct SyncState {
    engine: Engine,
    /// Documents the engine touched during one `handle` call, kept out of the LRU (which
    /// could evict them) until their changes are persisted.
    dirty: HashMap<DocId, (SpaceId, Loaded, bool)>,
    /// Documents made during one `handle` call from the bytes a peer sent them in, with the
    /// heads they loaded to: stored as they are unless more changes followed.
    received: HashMap<DocId, (Vec<u8>, Vec<ChangeHash>)>,
    /// Documents sent whole during one `handle` call and kept as sent (written with that
    /// call's transaction, then loaded in the background).
    kept: HashMap<DocId, Received>,
    /// The order they arrived in (the order they are stored in, and so indexed in).
    kept_order: Vec<DocId>,
    /// Documents made during one `handle` call from the store's kept ones: settled when
    /// written.
    from_kept: HashSet<DocId>,
    /// Kept documents found bad during one `handle` call: dropped with that call's
    /// transaction.
    rejected: Vec<DocId>,
    /// Whether documents were kept since the node last asked ([`Core::take_kept_news`]).
    kept_news: bool,
    /// Each cohort's membership, folded from its signed log.
    pub(super) memberships: BTreeMap<SpaceId, MembershipState>,
    /// Spaces this device was invited to and whose log it has not received yet: peers
    /// offering them are trusted until the log arrives (there is nothing here to protect).
    pub(super) joining: BTreeSet<SpaceId>,
    /// Local changes not yet offered to connected peers.
    local: Vec<(SpaceId, DocId)>,
    /// Whether membership changed since the engine was last told.
    pub(super) membership_changed: bool,
    /// Admission requests (signed redemptions) for spaces being joined.
    pub(super) requests: BTreeMap<SpaceId, Vec<u8>>,
    /// Spaces whose log just confirmed this device as a member.
    newly_joined: Vec<SpaceId>,
    /// The personal space this device is being linked into (`device add`), until it has
    /// become that person's device.
    pub(super) linking: Option<super::devices::LinkTarget>,
    /// Whether a membership log or the profile changed since the person's devices were last
    /// reconciled with their cohorts (see `Core::reconcile_devices`).
    pub(super) devices_due: bool,
    /// When to offer refused sessions again, and the wait after that (a peer may refuse
    /// only because a membership entry has not reached it yet).
    retry: Option<Timestamp>,
    retry_delay: i64,
    /// When each space was last in sync with a peer (wall clock).
    last_sync: BTreeMap<SpaceId, Timestamp>,
    /// Spaces in sync with every peer syncing them now (a `Synced` notice was sent when each
    /// entered this set).
    in_sync: BTreeSet<SpaceId>,
    /// Happenings for the UI, drained by [`Core::take_sync_notices`].
    pub(super) notices: Vec<SyncNotice>,
}

impl SyncState {
    pub(super) fn new() -> SyncState {
        SyncState {
            engine: Engine::new(Config::default()),
            dirty: HashMap::new(),
            received: HashMap::new(),
            kept: HashMap::new(),
            kept_order: Vec::new(),
            from_kept: HashSet::new(),
            rejected: Vec::new(),
            // Documents may be waiting from the last run.
            kept_news: true,
            memberships: BTreeMap::new(),
            joining: BTreeSet::new(),
            local: Vec::new(),
            membership_changed: false,
            requests: BTreeMap::new(),
            newly_joined: Vec::new(),
            linking: None,
            devices_due: false,
            retry: None,
            retry_delay: RETRY_FIRST_MS,
            last_sync: BTreeMap::new(),
            in_sync: BTreeSet::new(),
            notices: Vec::new(),
        }
    }
}

struct HostDocs<'a> {
    store: &'a Store,
    cache: &'a mut LruCache<DocId, Loaded>,
    dirty: &'a mut HashMap<DocId, (SpaceId, Loaded, bool)>,
    received: &'a mut HashMap<DocId, (Vec<u8>, Vec<ChangeHash>)>,
    kept: &'a mut HashMap<DocId, Received>,
    kept_order: &'a mut Vec<DocId>,
    from_kept: &'a mut HashSet<DocId>,
    rejected: &'a mut Vec<DocId>,
    actor: &'a automerge::ActorId,
}

impl HostDocs<'_> {
    /// Whether `doc` is here already (touched in this call, or stored, or kept as received;
    /// an unreadable index counts as held, so nothing is created over it).
    fn holds(&self, doc: DocId) -> bool {
        self.dirty.contains_key(&doc)
            || self.kept.contains_key(&doc)
            || !matches!(self.store.meta(doc), Ok(None))
            || !matches!(self.store.received_heads(doc), Ok(None))
    }

    /// A document kept as received (in this call or before) in `space`: its bytes and the
    /// heads its sender named.
    fn kept_doc(&self, space: SpaceId, doc: DocId) -> Option<(Vec<u8>, Vec<ChangeHash>)> {
        let r = match self.kept.get(&doc) {
            Some(r) => r.clone(),
            None => self.store.received(doc).ok()??,
        };
        (r.space == space).then(|| (r.bytes, r.heads.into_iter().map(ChangeHash).collect()))
    }

    fn load(&mut self, space: SpaceId, doc: DocId) -> Option<()> {
        if self.dirty.contains_key(&doc) {
            return (self.dirty.get(&doc)?.0 == space).then_some(());
        }
        let Some(meta) = self.store.meta(doc).ok()? else {
            return self.load_kept(space, doc);
        };
        if meta.space != space {
            return None;
        }
        let loaded = match self.cache.pop(&doc) {
            Some(l) => l,
            None => super::load_stored(self.store, doc, self.actor).ok()??,
        };
        self.dirty.insert(doc, (space, loaded, false));
        Some(())
    }

    /// Makes a document kept as received, because the engine needs it: it becomes a fresh
    /// document of this call (written as sent if it is persisted), or is dropped if its
    /// bytes do not load strictly to the heads its sender named.
    fn load_kept(&mut self, space: SpaceId, doc: DocId) -> Option<()> {
        let (bytes, heads) = self.kept_doc(space, doc)?;
        let kept_now = self.kept.remove(&doc).is_some();
        let loaded = match super::received::load_as_named(&bytes, &heads) {
            Ok(loaded) => loaded,
            Err(why) => {
                tracing::warn!(%doc, %space, "dropped a document a peer sent: {why}");
                if !kept_now {
                    self.rejected.push(doc);
                }
                return None;
            }
        };
        if !kept_now {
            self.from_kept.insert(doc);
        }
        let loaded = Loaded {
            doc: loaded.with_actor(self.actor.clone()),
            chunks: 0,
        };
        self.received.insert(doc, (bytes, heads));
        self.dirty.insert(doc, (space, loaded, true));
        Some(())
    }
}

impl DocStore for HostDocs<'_> {
    fn space_heads(&mut self, space: SpaceId) -> Vec<(DocId, Vec<ChangeHash>)> {
        let stored = self.store.space_heads(space).unwrap_or_default();
        let mut out: BTreeMap<DocId, Vec<ChangeHash>> = stored
            .into_iter()
            .map(|(id, heads)| (id, heads.into_iter().map(ChangeHash).collect()))
            .collect();
        for (id, r) in self.kept.iter() {
            if r.space == space {
                out.insert(*id, r.heads.iter().copied().map(ChangeHash).collect());
            }
        }
        for (id, (s, loaded, _)) in self.dirty.iter_mut() {
            if *s == space {
                out.insert(*id, loaded.doc.get_heads());
            }
        }
        out.into_iter().collect()
    }

    fn doc_mut(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        self.load(space, doc)?;
        self.dirty.get_mut(&doc).map(|(_, l, _)| &mut l.doc)
    }

    fn heads(&mut self, space: SpaceId, doc: DocId) -> Option<Vec<ChangeHash>> {
        if let Some((s, loaded, _)) = self.dirty.get_mut(&doc) {
            return (*s == space).then(|| loaded.doc.get_heads());
        }
        if let Some(r) = self.kept.get(&doc) {
            return (r.space == space).then(|| r.heads.iter().copied().map(ChangeHash).collect());
        }
        // The index row holds the heads of what is stored, which is the document.
        match self.store.meta(doc).ok()? {
            Some(meta) => {
                (meta.space == space).then(|| meta.heads.into_iter().map(ChangeHash).collect())
            }
            None => {
                let (s, heads) = self.store.received_heads(doc).ok()??;
                (s == space).then(|| heads.into_iter().map(ChangeHash).collect())
            }
        }
    }

    fn saved(&mut self, space: SpaceId, doc: DocId) -> Option<(Vec<u8>, Vec<ChangeHash>)> {
        if let Some((s, loaded, _)) = self.dirty.get_mut(&doc) {
            return (*s == space).then(|| (loaded.doc.save(), loaded.doc.get_heads()));
        }
        // The snapshot and the change chunks after it, as stored: what loading would read.
        // A document kept as received goes on as it came.
        let Some(stored) = self.store.load(doc).ok()? else {
            return self.kept_doc(space, doc);
        };
        if stored.meta.space != space {
            return None;
        }
        let mut bytes = stored.snapshot;
        for chunk in &stored.chunks {
            bytes.extend_from_slice(chunk);
        }
        Some((
            bytes,
            stored.meta.heads.into_iter().map(ChangeHash).collect(),
        ))
    }

    fn create_doc(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        if self.holds(doc) {
            return self.doc_mut(space, doc);
        }
        let fresh = Loaded {
            doc: AutoCommit::new().with_actor(self.actor.clone()),
            chunks: 0,
        };
        self.dirty.insert(doc, (space, fresh, true));
        self.dirty.get_mut(&doc).map(|(_, l, _)| &mut l.doc)
    }

    fn create_docs_from(
        &mut self,
        space: SpaceId,
        docs: Vec<(DocId, Vec<u8>)>,
    ) -> Vec<(
        DocId,
        Option<std::result::Result<(), automerge::AutomergeError>>,
    )> {
        // Documents held here already merge one by one; new ones load on every core.
        let mut out = Vec::with_capacity(docs.len());
        let mut new = Vec::new();
        for (doc, bytes) in docs {
            if self.holds(doc) {
                let made = self
                    .doc_mut(space, doc)
                    .map(|held| cohort_sync::engine::fill_from(held, &bytes));
                out.push((doc, made));
            } else {
                new.push((doc, bytes));
            }
        }
        let loaded = on_every_core(new, |(doc, bytes)| {
            let loaded = cohort_sync::engine::load_whole(&bytes);
            (doc, bytes, loaded)
        });
        for (doc, bytes, loaded) in loaded {
            let made = loaded.map(|d| {
                let mut loaded = Loaded {
                    doc: d.with_actor(self.actor.clone()),
                    chunks: 0,
                };
                self.received.insert(doc, (bytes, loaded.doc.get_heads()));
                self.dirty.insert(doc, (space, loaded, true));
            });
            out.push((doc, Some(made)));
        }
        out
    }

    fn send_first(&mut self, space: SpaceId) -> Vec<DocId> {
        // The membership log admits a joining device, and profiles (member cards, or the
        // person's own profile for a linked device) name people: a receiver that indexes
        // documents in arrival order takes these first.
        [DocKind::Membership, DocKind::Profile]
            .into_iter()
            .flat_map(|kind| {
                self.store
                    .list(&ListFilter {
                        kinds: Some(vec![kind]),
                        spaces: Some(vec![space]),
                        include_deleted: true,
                        ..ListFilter::default()
                    })
                    .unwrap_or_default()
            })
            .map(|m| m.id)
            .collect()
    }

    fn keep_whole(&mut self, space: SpaceId, docs: Vec<Whole>) -> Option<Vec<(DocId, bool)>> {
        if docs.len() < KEEP_WHOLE_AT_LEAST {
            return None;
        }
        Some(
            docs.into_iter()
                .map(|w| {
                    if self.holds(w.doc) {
                        return (w.doc, false);
                    }
                    self.kept_order.push(w.doc);
                    self.kept.insert(
                        w.doc,
                        Received {
                            id: w.doc,
                            space,
                            heads: w.heads.iter().map(|h| h.0).collect(),
                            bytes: w.bytes,
                        },
                    );
                    (w.doc, true)
                })
                .collect(),
        )
    }
}

struct HostAuth<'a> {
    memberships: &'a BTreeMap<SpaceId, MembershipState>,
    joining: &'a BTreeSet<SpaceId>,
    requests: &'a BTreeMap<SpaceId, Vec<u8>>,
    personal: SpaceId,
    person: PersonId,
    /// The personal space being linked into: its person, and the device that made the
    /// ticket (the only peer trusted with it until its log arrives), if the ticket said.
    linking: Option<(SpaceId, PersonId, Option<DeviceId>)>,
    /// This person's other devices (from the personal log, or the one being linked into).
    own: BTreeSet<DeviceId>,
    me: DeviceId,
}

impl HostAuth<'_> {
    /// The person whose own devices alone may hold `space`: this person for the personal
    /// space, the person being linked to for theirs.
    fn owner(&self, space: SpaceId) -> Option<PersonId> {
        if space == self.personal {
            return Some(self.person);
        }
        self.linking
            .filter(|(s, _, _)| *s == space)
            .map(|(_, person, _)| person)
    }

    /// Whether `device` is trusted with `space` before its log arrives (a cohort or a
    /// personal space this device expects to be admitted to).
    fn trusts_joining(&self, space: SpaceId, device: DeviceId) -> bool {
        if !self.joining.contains(&space) {
            return false;
        }
        match self.linking {
            Some((s, _, Some(issuer))) if s == space => device == issuer,
            _ => true,
        }
    }

    /// The fold of `space` if this device is a member of it.
    fn joined(&self, space: SpaceId) -> Option<&MembershipState> {
        self.memberships
            .get(&space)
            .filter(|state| state.role_of_device(self.me).is_some())
    }

    fn allowed(&self, space: SpaceId, device: DeviceId, write: bool) -> bool {
        match self.joined(space) {
            Some(state) => match self.owner(space) {
                // A personal space reaches only its person's own devices, whatever else its
                // log might say.
                Some(owner) => state
                    .role_of_device(device)
                    .is_some_and(|(person, _)| person == owner),
                None if write => state.may_write(device),
                None => state.may_read(device),
            },
            // A personal space without a log (a data dir from before device linking) is
            // this device's alone.
            None if space == self.personal => device == self.me,
            // A space held by nobody here yet: one expected, or one this person's own other
            // device offers (it offers only spaces it lets this device read).
            None => self.trusts_joining(space, device) || self.own.contains(&device),
        }
    }
}

impl Authorizer for HostAuth<'_> {
    fn may_read(&self, space: SpaceId, device: DeviceId) -> bool {
        self.allowed(space, device, false)
    }

    fn may_write(&self, space: SpaceId, device: DeviceId) -> bool {
        self.allowed(space, device, true)
    }

    fn shared_spaces(&self, device: DeviceId) -> Vec<SpaceId> {
        let mut out: BTreeSet<SpaceId> = self
            .memberships
            .keys()
            .copied()
            .filter(|s| self.may_read(*s, device))
            .collect();
        out.extend(
            self.joining
                .iter()
                .copied()
                .filter(|s| self.trusts_joining(*s, device)),
        );
        if device == self.me {
            out.insert(self.personal);
        }
        out.into_iter().collect()
    }

    fn admission_request(&self, space: SpaceId) -> Option<Vec<u8>> {
        if self.joined(space).is_some() {
            return None;
        }
        self.requests.get(&space).cloned()
    }
}

impl Core {
    /// This device's identity (its Ed25519 public key).
    pub fn device(&self) -> DeviceId {
        self.key.device_id()
    }

    /// The members of a cohort as its signed membership log says, with their roles; entries
    /// that break the log's rules are left out (and logged).
    pub fn members(&mut self, space: SpaceId) -> Result<Vec<MemberView>> {
        let names = self.people()?;
        let state = self
            .sync
            .memberships
            .get(&space)
            .ok_or_else(|| CoreError::not_found("cohort", space))?;
        Ok(state
            .members()
            .iter()
            .map(|(person, member)| MemberView {
                person: *person,
                name: names.get(person).cloned().unwrap_or_else(|| person.short()),
                role: member.role,
                devices: member.devices.len(),
                you: *person == self.me.person,
            })
            .collect())
    }

    /// The membership log document of a cohort.
    pub(super) fn membership_log(&self, space: SpaceId) -> Result<DocId> {
        self.list(&[DocKind::Membership], Some(space), None)?
            .first()
            .map(|m| m.id)
            .ok_or_else(|| CoreError::not_found("cohort", space))
    }

    /// Folds every cohort's membership log held here.
    pub(super) fn load_memberships(&mut self) -> Result<()> {
        let logs = self.store.list(&ListFilter {
            kinds: Some(vec![DocKind::Membership]),
            ..ListFilter::default()
        })?;
        for meta in logs {
            self.refold(meta.space, meta.id)?;
        }
        Ok(())
    }

    /// Re-folds one space's membership log after it changed.
    pub(super) fn refold(&mut self, space: SpaceId, log: DocId) -> Result<()> {
        let read = Membership::read(self.doc(log)?)?;
        for bad in &read.unreadable {
            tracing::warn!(%space, path = %bad.path, problem = %bad.problem, "membership entry unreadable");
        }
        let (state, rejected) = MembershipState::fold(space, &read.entries);
        for r in &rejected {
            tracing::warn!(%space, entry = %r.entry_id, reason = %r.reason, "membership entry not applied");
        }
        if state.role_of_device(self.device()).is_some() {
            let was_joining = self.sync.joining.remove(&space);
            if was_joining || self.sync.requests.contains_key(&space) {
                self.sync.newly_joined.push(space);
            }
        }
        self.sync.memberships.insert(space, state);
        self.sync.membership_changed = true;
        self.sync.devices_due = true;
        // A membership change is what makes a refused session worth offering again soon.
        self.sync.retry_delay = RETRY_FIRST_MS;
        Ok(())
    }

    /// Records a committed local change for the sync engine (and a membership log's new
    /// state).
    pub(super) fn note_local_change(&mut self, event: &ChangeEvent) -> Result<()> {
        if event.kind == DocKind::Membership {
            self.refold(event.space, event.doc)?;
        }
        // Only connected peers need to hear of it; a peer connecting later compares
        // summaries anyway. (So a process with no connections queues nothing.)
        if self.sync.engine.connections().next().is_some()
            && !self.sync.local.contains(&(event.space, event.doc))
        {
            self.sync.local.push((event.space, event.doc));
        }
        Ok(())
    }

    /// Expects to be admitted to `space` (from an invite): peers offering it are trusted
    /// until its membership log arrives.
    pub fn expect_space(&mut self, space: SpaceId) {
        if !self.sync.memberships.contains_key(&space) {
            self.sync.joining.insert(space);
        }
    }

    /// Adds a person (with their first device) to a cohort; only a facilitator can.
    pub fn add_member(
        &mut self,
        space: SpaceId,
        person: PersonId,
        device: DeviceId,
        role: Role,
    ) -> Result<()> {
        self.not_personal(space)?;
        let action = Action::AddMember {
            member: person,
            device,
            role,
        };
        self.append_membership(space, action, "add member")
    }

    /// Removes a person from a cohort; only a facilitator can. Their connections close and
    /// they receive nothing from then on (what they already had, they keep).
    pub fn remove_member(&mut self, space: SpaceId, person: PersonId) -> Result<()> {
        self.not_personal(space)?;
        let action = Action::RemoveMember { member: person };
        self.append_membership(space, action, "remove member")
    }

    /// Signs `action` with this device's key and appends it to the space's log.
    pub(super) fn append_membership(
        &mut self,
        space: SpaceId,
        action: Action,
        message: &str,
    ) -> Result<()> {
        let state = self
            .sync
            .memberships
            .get(&space)
            .ok_or_else(|| CoreError::not_found("cohort", space))?;
        if !state.may_admit(self.device()) {
            return Err(CoreError::InvalidInput(
                "only a facilitator of this cohort can change its members".into(),
            ));
        }
        self.append_entry(space, action, message)
    }

    /// Signs `action` with this device's key and appends it to the space's log, leaving it
    /// to the fold to apply it or not (for acts any member may do for themselves).
    pub(super) fn append_entry(
        &mut self,
        space: SpaceId,
        action: Action,
        message: &str,
    ) -> Result<()> {
        let log = self.membership_log(space)?;
        let id = self.new_item();
        let now = self.clock.now();
        let entry = action.signed(&self.key, space, id, now);
        self.edit(log, message, super::Fts::Keep, |doc, _| {
            Membership::append(doc, &entry)
        })
    }

    /// Refuses cohort membership commands on the personal space, which only ever holds this
    /// person's own devices (`device link` adds one).
    pub(super) fn not_personal(&self, space: SpaceId) -> Result<()> {
        if space == self.me.personal_space {
            return Err(CoreError::InvalidInput(
                "the personal space is yours alone; to use it on another of your devices, run `cohort device link` there".into(),
            ));
        }
        Ok(())
    }

    /// Feeds one transport event to the sync engine; persists what peers sent (in one
    /// transaction per call) and returns what the transport must do (`Send`, `Disconnect`,
    /// and the informational `Refused` and `Stalled`).
    pub fn sync_event(&mut self, now: Millis, event: Event) -> Result<Vec<Effect>> {
        let mut out = self.run_engine(now, event)?;
        out.extend(self.sync_poll(now)?);
        Ok(out)
    }

    /// Offers local changes made since the last call to connected peers, and tells the
    /// engine about membership changes. Call after local edits.
    pub fn sync_poll(&mut self, now: Millis) -> Result<Vec<Effect>> {
        let mut out = Vec::new();
        // Each round may persist a membership log that changes who may read what.
        for _ in 0..8 {
            // A device being linked becomes its person's device once their log and profile
            // are here; then its person's devices and cohorts are reconciled.
            if self.sync.linking.is_some() {
                self.try_finish_link()?;
            }
            if std::mem::take(&mut self.sync.devices_due) {
                self.reconcile_devices()?;
            }
            if self.sync.retry.is_some_and(|at| self.clock.now() >= at) {
                // Offer refused sessions again (dialed connections re-offer what they share).
                self.sync.retry = None;
                self.sync.membership_changed = true;
            }
            // A confirmed join writes this person's member card, a local change like any.
            for space in std::mem::take(&mut self.sync.newly_joined) {
                self.joined(space)?;
                self.sync.notices.push(SyncNotice {
                    kind: SyncNoticeKind::Admitted,
                    space: Some(space),
                    device: None,
                    message: Some("this device is now a member".into()),
                });
            }
            let local = std::mem::take(&mut self.sync.local);
            let changed = std::mem::take(&mut self.sync.membership_changed);
            if local.is_empty() && !changed {
                break;
            }
            if changed {
                out.extend(self.run_engine(now, Event::MembershipChanged)?);
            }
            for (space, doc) in local {
                out.extend(self.run_engine(now, Event::LocalChange { space, doc })?);
            }
        }
        Ok(out)
    }

    fn run_engine(&mut self, now: Millis, event: Event) -> Result<Vec<Effect>> {
        let me = self.device();
        let personal = self.me.personal_space;
        let person = self.me.person;
        let own = self.own_devices();
        let effects = {
            let SyncState {
                engine,
                dirty,
                received,
                kept,
                kept_order,
                from_kept,
                rejected,
                memberships,
                joining,
                requests,
                linking,
                ..
            } = &mut self.sync;
            let mut docs = HostDocs {
                store: &self.store,
                cache: &mut self.cache,
                dirty,
                received,
                kept,
                kept_order,
                from_kept,
                rejected,
                actor: &self.actor,
            };
            let auth = HostAuth {
                memberships,
                joining,
                requests,
                personal,
                person,
                linking: linking.as_ref().map(|l| (l.space, l.person, l.issuer)),
                own,
                me,
            };
            engine.handle(now, event, &mut docs, &auth)
        };
        let mut persist = Vec::new();
        let mut admits = Vec::new();
        let mut out = Vec::new();
        for effect in effects {
            match effect {
                Effect::Persist { space, doc, since } => persist.push((space, doc, since)),
                Effect::Changed { .. } => {}
                Effect::Admit {
                    conn,
                    peer,
                    space,
                    request,
                } => admits.push((conn, peer, space, request)),
                Effect::Refused {
                    conn,
                    peer,
                    space,
                    reason,
                } => {
                    if self.sync.requests.contains_key(&space) {
                        self.note_refusal(space, reason)?;
                    }
                    if self.sync.retry.is_none() {
                        let delay = self.sync.retry_delay;
                        self.sync.retry = Some(Timestamp(self.clock.now().millis() + delay));
                        self.sync.retry_delay = (delay * 2).min(RETRY_MAX_MS);
                    }
                    self.sync.notices.push(SyncNotice {
                        kind: SyncNoticeKind::Refused,
                        space: Some(space),
                        device: Some(peer.to_string()),
                        message: Some(super::invites::refusal_message(reason)),
                    });
                    out.push(Effect::Refused {
                        conn,
                        peer,
                        space,
                        reason,
                    });
                }
                other => out.push(other),
            }
        }
        let result = self.persist_synced(persist);
        self.sync.received.clear();
        self.sync.kept.clear();
        self.sync.kept_order.clear();
        self.sync.from_kept.clear();
        self.sync.rejected.clear();
        // Whatever happened, documents go back to the cache: persisted ones with their new
        // chunk count, the rest (only read, or refused) as they were.
        for (id, (_, loaded, fresh)) in self.sync.dirty.drain() {
            if !fresh {
                self.cache.put(id, loaded);
            }
        }
        result?;
        for (conn, peer, space, request) in admits {
            let result = self.admit(space, peer, &request);
            if result.is_ok() {
                let what = if space == self.me.personal_space {
                    "linked a new device of yours"
                } else {
                    "admitted a new member"
                };
                self.sync.notices.push(SyncNotice {
                    kind: SyncNoticeKind::Admitted,
                    space: Some(space),
                    device: Some(peer.to_string()),
                    message: Some(what.into()),
                });
            }
            // The admission changed the log: tell the engine before it answers.
            if std::mem::take(&mut self.sync.membership_changed) {
                out.extend(self.run_engine(now, Event::MembershipChanged)?);
            }
            out.extend(self.run_engine(
                now,
                Event::Admitted {
                    conn,
                    space,
                    result,
                },
            )?);
        }
        self.note_in_sync();
        Ok(out)
    }

    /// Stamps spaces whose active sessions have compared the space with their peer and have
    /// nothing in flight as in sync now, with a `Synced` notice each time a space becomes so
    /// (after a connection's first comparison, or once a burst of changes is acknowledged).
    fn note_in_sync(&mut self) {
        let now = self.clock.now();
        let mut busy = BTreeSet::new();
        let mut idle = BTreeSet::new();
        for s in self.sync.engine.sessions() {
            if !s.active {
                continue;
            }
            if s.compared && s.pending == 0 {
                idle.insert(s.space);
            } else {
                busy.insert(s.space);
            }
        }
        let in_sync: BTreeSet<SpaceId> = idle.difference(&busy).copied().collect();
        for space in &in_sync {
            self.sync.last_sync.insert(*space, now);
            if !self.sync.in_sync.contains(space) {
                self.sync.notices.push(SyncNotice {
                    kind: SyncNoticeKind::Synced,
                    space: Some(*space),
                    device: None,
                    message: None,
                });
            }
        }
        self.sync.in_sync = in_sync;
    }

    /// Whether a sync session is still exchanging documents (not yet compared, or with
    /// documents in flight): the indexer leaves the machine to it until it is done.
    pub fn sync_busy(&self) -> bool {
        self.sync
            .engine
            .sessions()
            .iter()
            .any(|s| s.active && (!s.compared || s.pending > 0))
    }

    /// Happenings since the last call (peers refused, members admitted, spaces in sync).
    pub fn take_sync_notices(&mut self) -> Vec<SyncNotice> {
        std::mem::take(&mut self.sync.notices)
    }

    /// Per space: peers syncing it now, documents in flight, when it was last in sync, and
    /// for a cohort being joined, its state.
    pub fn sync_status(&mut self) -> Result<Vec<SpaceSyncView>> {
        let sessions = self.sync.engine.sessions();
        let joins = self.pending_joins()?;
        let indexing: BTreeMap<SpaceId, u64> = self.received_waiting()?.into_iter().collect();
        // Peers syncing `space` now, and documents in flight with them.
        let live = |space: SpaceId| {
            let mine: Vec<_> = sessions
                .iter()
                .filter(|s| s.space == space && s.active)
                .collect();
            let mut peers: Vec<DeviceId> = mine.iter().map(|s| s.peer).collect();
            peers.sort_unstable();
            peers.dedup();
            (peers.len(), mine.iter().map(|s| s.pending).sum::<usize>())
        };
        let mut out = Vec::new();
        for info in self.spaces()? {
            let (peers, pending) = live(info.id);
            let bytes = self.sync.engine.space_bytes(info.id);
            out.push(SpaceSyncView {
                space: info.id,
                name: info.name,
                peers,
                pending,
                last_sync: self.sync.last_sync.get(&info.id).copied(),
                joining: None,
                bytes_sent: bytes.sent,
                bytes_received: bytes.received,
                indexing: indexing.get(&info.id).copied().unwrap_or(0),
            });
        }
        if let Some(link) = self.linking()? {
            out.push(SpaceSyncView {
                space: link.space,
                name: format!("personal space of {} (linking)", link.person.short()),
                peers: 0,
                pending: 0,
                last_sync: None,
                joining: Some(
                    link.refused
                        .unwrap_or_else(|| "waiting for one of your devices".into()),
                ),
                bytes_sent: 0,
                bytes_received: 0,
                indexing: indexing.get(&link.space).copied().unwrap_or(0),
            });
        }
        for space in self.sync.joining.clone() {
            if out.iter().any(|v| v.space == space) || joins.contains_key(&space) {
                continue;
            }
            // A cohort this person belongs to, expected here since this device was linked.
            out.push(SpaceSyncView {
                space,
                name: format!("cohort {} (arriving)", space.short()),
                peers: 0,
                pending: 0,
                last_sync: None,
                joining: Some("waiting for a member".into()),
                bytes_sent: 0,
                bytes_received: 0,
                indexing: indexing.get(&space).copied().unwrap_or(0),
            });
        }
        for (space, join) in joins {
            if out.iter().any(|v| v.space == space) {
                continue;
            }
            out.push(SpaceSyncView {
                space,
                name: format!("cohort {} (joining)", space.short()),
                peers: 0,
                pending: 0,
                last_sync: None,
                bytes_sent: 0,
                bytes_received: 0,
                indexing: indexing.get(&space).copied().unwrap_or(0),
                joining: Some(
                    join.refused
                        .unwrap_or_else(|| "waiting for a member".into()),
                ),
            });
        }
        // A cohort whose documents arrived and are still being indexed (its charter, which
        // names it, among them).
        for (space, n) in indexing {
            if out.iter().any(|v| v.space == space) {
                continue;
            }
            let bytes = self.sync.engine.space_bytes(space);
            let (peers, pending) = live(space);
            out.push(SpaceSyncView {
                space,
                name: format!("cohort {} (arriving)", space.short()),
                peers,
                pending,
                last_sync: self.sync.last_sync.get(&space).copied(),
                joining: None,
                bytes_sent: bytes.sent,
                bytes_received: bytes.received,
                indexing: n,
            });
        }
        Ok(out)
    }

    /// The last-sync times, to keep across restarts (the node saves them on shutdown).
    pub fn save_sync_times(&mut self) -> Result<()> {
        let bytes = serde_json::to_vec(&self.sync.last_sync)
            .map_err(|e| CoreError::InvalidInput(format!("cannot record sync times: {e}")))?;
        self.store.kv_set(SYNC_TIMES_KEY, &bytes)?;
        Ok(())
    }

    /// Loads the last-sync times saved by [`Core::save_sync_times`] (on open).
    pub(super) fn load_sync_times(&mut self) -> Result<()> {
        if let Some(bytes) = self.store.kv_get(SYNC_TIMES_KEY)? {
            // Damaged times are only a display matter: start afresh.
            self.sync.last_sync = serde_json::from_slice(&bytes).unwrap_or_default();
        }
        Ok(())
    }

    /// Who a device belongs to in the cohorts held here, and that person's name.
    pub fn person_of_device(&mut self, device: DeviceId) -> Result<Option<(PersonId, String)>> {
        let person = self
            .sync
            .memberships
            .values()
            .find_map(|s| s.role_of_device(device).map(|(p, _)| p));
        let Some(person) = person else {
            return Ok(None);
        };
        let name = self
            .people()?
            .get(&person)
            .cloned()
            .unwrap_or_else(|| person.short());
        Ok(Some((person, name)))
    }

    /// The spaces waiting for admission, with the inviters' addresses (for the node to dial).
    pub fn joins_waiting(&self) -> Result<Vec<(SpaceId, Vec<String>)>> {
        let mut out: Vec<(SpaceId, Vec<String>)> = self
            .pending_joins()?
            .into_iter()
            .filter(|(space, _)| !self.is_member(*space))
            .map(|(space, join)| (space, join.addrs))
            .collect();
        if let Some(link) = self.pending_link()? {
            out.push((link.space, link.addrs));
        }
        Ok(out)
    }

    /// Writes documents changed by peers in one transaction, then announces them.
    /// Documents kept as received in this call are written too (to load and index later),
    /// and kept ones found bad are dropped.
    fn persist_synced(&mut self, items: Vec<(SpaceId, DocId, Vec<ChangeHash>)>) -> Result<()> {
        let mut batch = WriteBatch {
            received: std::mem::take(&mut self.sync.kept_order)
                .into_iter()
                .filter_map(|id| self.sync.kept.remove(&id))
                .collect(),
            settled: std::mem::take(&mut self.sync.rejected),
            ..WriteBatch::default()
        };
        if items.is_empty() && batch.received.is_empty() && batch.settled.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut events = Vec::new();
        let mut logs = Vec::new();
        for (space, id, since) in items {
            let Some((_, loaded, fresh)) = self.sync.dirty.get_mut(&id) else {
                continue;
            };
            // A kept document made in this call is settled, whether it is stored or refused.
            if self.sync.from_kept.remove(&id) {
                batch.settled.push(id);
            }
            // New changes to a document held here go in as a chunk. A keystroke-sized one
            // marks the search rows stale (the next search re-indexes the document), as local
            // keystrokes do, rather than re-indexing a long text on every keystroke.
            let delta = (!*fresh).then(|| loaded.doc.save_after(&since));
            let small = delta
                .as_ref()
                .is_some_and(|d| d.len() <= SMALL_SYNCED_CHANGE);
            let read = if small {
                index::meta(&mut loaded.doc, now).map(|m| (m, None))
            } else {
                index::meta_and_fts(&mut loaded.doc, now).map(|(m, f)| (m, Some(f)))
            };
            // A document must say it is itself, in the space it came through, and validate;
            // anything else is a peer's mistake or attack and is not stored.
            let (meta, fts) = match read {
                Ok((m, _)) if m.id != id || m.space != space => {
                    tracing::warn!(%id, %space, claimed_space = %m.space, "refused a synced document that names another id or space");
                    continue;
                }
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(%id, %space, error = %e, "refused a synced document that does not validate");
                    continue;
                }
            };
            let fts = match fts {
                Some(entries) => FtsUpdate::Replace(entries),
                None => FtsUpdate::MarkStale,
            };
            let data = match delta {
                None => {
                    *fresh = false;
                    loaded.chunks = 0;
                    // As the peer sent it (it loaded strictly), unless more changes came.
                    let heads = loaded.doc.get_heads();
                    match self.sync.received.remove(&id) {
                        Some((bytes, at)) if at == heads => DocData::Replace(bytes),
                        _ => DocData::Replace(loaded.doc.save()),
                    }
                }
                Some(_) if loaded.chunks + 1 >= super::COMPACT_AFTER_CHUNKS => {
                    loaded.chunks = 0;
                    DocData::Replace(loaded.doc.save())
                }
                Some(delta) => {
                    loaded.chunks += 1;
                    DocData::Append(delta)
                }
            };
            self.note_arrival(&meta, &mut events, &mut logs);
            batch.docs.push(DocWrite { meta, data, fts });
        }
        if !batch.received.is_empty() {
            self.sync.kept_news = true;
        }
        self.store.write(&batch)?;
        for (_, log) in &logs {
            // The log is persisted; move it into the cache so refold can read it.
            if let Some((_, loaded, _)) = self.sync.dirty.remove(log) {
                self.cache.put(*log, loaded);
            }
        }
        self.announce_arrivals(events, logs)
    }

    /// Whether documents were kept as received since the last call (the node then loads
    /// them in the background).
    pub fn take_kept_news(&mut self) -> bool {
        std::mem::take(&mut self.sync.kept_news)
    }
}
