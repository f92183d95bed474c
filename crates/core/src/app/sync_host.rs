//! The core as host of the sans-IO sync engine: its documents ([`DocStore`]) and its view of
//! membership ([`Authorizer`]), and the handling of the engine's effects. A transport (the
//! network layer, or a test's in-memory pipe) feeds [`Core::sync_event`] with connection
//! events and writes the `Send` effects it returns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::{AutoCommit, ChangeHash};
use cohort_model::{DocId, DocKind, Membership, PersonId, Role, SpaceId, read_header};
use cohort_store::{DocData, DocWrite, FtsUpdate, ListFilter, Store, WriteBatch};
use cohort_sync::DeviceId;
use cohort_sync::engine::{Authorizer, Config, DocStore, Effect, Engine, Event, Millis};
use cohort_sync::membership::{Action, MembershipState};
use lru::LruCache;

use super::{Core, Loaded};
use crate::error::{CoreError, Result};
use crate::index;
use crate::views::{ChangeEvent, ChangeKind, MemberView};

/// The sync engine and the state the core keeps for it.
pub(super) struct SyncState {
    engine: Engine,
    /// Documents the engine touched during one `handle` call, kept out of the LRU (which
    /// could evict them) until their changes are persisted.
    dirty: HashMap<DocId, (SpaceId, Loaded, bool)>,
    /// Each cohort's membership, folded from its signed log.
    memberships: BTreeMap<SpaceId, MembershipState>,
    /// Spaces this device was invited to and whose log it has not received yet: peers
    /// offering them are trusted until the log arrives (there is nothing here to protect).
    joining: BTreeSet<SpaceId>,
    /// Local changes not yet offered to connected peers.
    local: Vec<(SpaceId, DocId)>,
    /// Whether membership changed since the engine was last told.
    membership_changed: bool,
}

impl SyncState {
    pub(super) fn new() -> SyncState {
        SyncState {
            engine: Engine::new(Config::default()),
            dirty: HashMap::new(),
            memberships: BTreeMap::new(),
            joining: BTreeSet::new(),
            local: Vec::new(),
            membership_changed: false,
        }
    }
}

struct HostDocs<'a> {
    store: &'a Store,
    cache: &'a mut LruCache<DocId, Loaded>,
    dirty: &'a mut HashMap<DocId, (SpaceId, Loaded, bool)>,
    actor: &'a automerge::ActorId,
}

impl HostDocs<'_> {
    fn load(&mut self, space: SpaceId, doc: DocId) -> Option<()> {
        if self.dirty.contains_key(&doc) {
            return (self.dirty.get(&doc)?.0 == space).then_some(());
        }
        let meta = self.store.meta(doc).ok()??;
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
}

impl DocStore for HostDocs<'_> {
    fn space_heads(&mut self, space: SpaceId) -> Vec<(DocId, Vec<ChangeHash>)> {
        let metas = self
            .store
            .list(&ListFilter {
                spaces: Some(vec![space]),
                include_deleted: true,
                ..ListFilter::default()
            })
            .unwrap_or_default();
        let mut out: BTreeMap<DocId, Vec<ChangeHash>> = metas
            .into_iter()
            .map(|m| (m.id, m.heads.into_iter().map(ChangeHash).collect()))
            .collect();
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

    fn create_doc(&mut self, space: SpaceId, doc: DocId) -> Option<&mut AutoCommit> {
        if self.dirty.contains_key(&doc) || self.store.meta(doc).ok()?.is_some() {
            return self.doc_mut(space, doc);
        }
        let fresh = Loaded {
            doc: AutoCommit::new().with_actor(self.actor.clone()),
            chunks: 0,
        };
        self.dirty.insert(doc, (space, fresh, true));
        self.dirty.get_mut(&doc).map(|(_, l, _)| &mut l.doc)
    }
}

struct HostAuth<'a> {
    memberships: &'a BTreeMap<SpaceId, MembershipState>,
    joining: &'a BTreeSet<SpaceId>,
    personal: SpaceId,
    me: DeviceId,
}

impl Authorizer for HostAuth<'_> {
    fn may_read(&self, space: SpaceId, device: DeviceId) -> bool {
        if space == self.personal {
            // Until linked devices land, the personal space is this device's alone.
            return device == self.me;
        }
        match self.memberships.get(&space) {
            Some(state) if state.role_of_device(self.me).is_some() => state.may_read(device),
            _ => self.joining.contains(&space),
        }
    }

    fn may_write(&self, space: SpaceId, device: DeviceId) -> bool {
        if space == self.personal {
            return device == self.me;
        }
        match self.memberships.get(&space) {
            Some(state) if state.role_of_device(self.me).is_some() => state.may_write(device),
            _ => self.joining.contains(&space),
        }
    }

    fn shared_spaces(&self, device: DeviceId) -> Vec<SpaceId> {
        let mut out: BTreeSet<SpaceId> = self
            .memberships
            .keys()
            .copied()
            .filter(|s| self.may_read(*s, device))
            .collect();
        out.extend(self.joining.iter().copied());
        if device == self.me {
            out.insert(self.personal);
        }
        out.into_iter().collect()
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
    fn membership_log(&self, space: SpaceId) -> Result<DocId> {
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
            self.sync.joining.remove(&space);
        }
        self.sync.memberships.insert(space, state);
        self.sync.membership_changed = true;
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
        let action = Action::RemoveMember { member: person };
        self.append_membership(space, action, "remove member")
    }

    /// Signs `action` with this device's key and appends it to the space's log.
    fn append_membership(&mut self, space: SpaceId, action: Action, message: &str) -> Result<()> {
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
        let log = self.membership_log(space)?;
        let id = self.new_item();
        let now = self.clock.now();
        let entry = action.signed(&self.key, space, id, now);
        self.edit(log, message, super::Fts::Keep, |doc, _| {
            Membership::append(doc, &entry)
        })
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
        let effects = {
            let SyncState {
                engine,
                dirty,
                memberships,
                joining,
                ..
            } = &mut self.sync;
            let mut docs = HostDocs {
                store: &self.store,
                cache: &mut self.cache,
                dirty,
                actor: &self.actor,
            };
            let auth = HostAuth {
                memberships,
                joining,
                personal,
                me,
            };
            engine.handle(now, event, &mut docs, &auth)
        };
        let mut persist = Vec::new();
        let mut out = Vec::new();
        for effect in effects {
            match effect {
                Effect::Persist { space, doc, since } => persist.push((space, doc, since)),
                Effect::Changed { .. } => {}
                other => out.push(other),
            }
        }
        let result = self.persist_synced(persist);
        // Whatever happened, documents go back to the cache: persisted ones with their new
        // chunk count, the rest (only read, or refused) as they were.
        for (id, (_, loaded, fresh)) in self.sync.dirty.drain() {
            if !fresh {
                self.cache.put(id, loaded);
            }
        }
        result?;
        Ok(out)
    }

    /// Writes documents changed by peers in one transaction, then announces them.
    fn persist_synced(&mut self, items: Vec<(SpaceId, DocId, Vec<ChangeHash>)>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let mut writes = Vec::new();
        let mut events = Vec::new();
        let mut logs = Vec::new();
        for (space, id, since) in items {
            let Some((_, loaded, fresh)) = self.sync.dirty.get_mut(&id) else {
                continue;
            };
            // A document must say it is itself, in the space it came through; anything else
            // is a peer's mistake or attack and is not stored.
            match read_header(&loaded.doc) {
                Ok(h) if h.id == id && h.space == space => {}
                Ok(h) => {
                    tracing::warn!(%id, %space, claimed_space = %h.space, "refused a synced document that names another id or space");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%id, %space, error = %e, "refused a synced document that is not valid");
                    continue;
                }
            }
            let meta = match index::meta(&mut loaded.doc, now) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(%id, error = %e, "refused a synced document that does not validate");
                    continue;
                }
            };
            let fts = FtsUpdate::Replace(index::fts_all(&loaded.doc)?);
            let data = if *fresh {
                *fresh = false;
                loaded.chunks = 0;
                DocData::Replace(loaded.doc.save())
            } else if loaded.chunks + 1 >= super::COMPACT_AFTER_CHUNKS {
                loaded.chunks = 0;
                DocData::Replace(loaded.doc.save())
            } else {
                loaded.chunks += 1;
                DocData::Append(loaded.doc.save_after(&since))
            };
            if meta.kind == DocKind::Membership {
                logs.push((space, id));
            }
            events.push(ChangeEvent {
                doc: id,
                space,
                kind: meta.kind,
                change: ChangeKind::Imported,
            });
            writes.push(DocWrite { meta, data, fts });
        }
        if !writes.is_empty() {
            self.store.write(&WriteBatch { docs: writes })?;
        }
        for event in events {
            let _ = self.events.send(event);
        }
        for (space, log) in logs {
            // The log is persisted; move it into the cache so refold can read it.
            if let Some((_, loaded, _)) = self.sync.dirty.remove(&log) {
                self.cache.put(log, loaded);
            }
            self.refold(space, log)?;
        }
        Ok(())
    }
}
