//! [`Core`]: one open data dir and every use case over it.

use std::collections::BTreeMap;
use std::fs::File;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use cohort_model::{
    self as model, Anchor, Attachment, Charter, ChecklistItem, Course, DocId, DocKind, ItemId,
    JournalEntry, Lesson, Membership, Milestone, NewCourse, NewLesson, NewPost, NewText, NewThread,
    Note, PersonId, Profile, Progress, Question, SpaceId, Splice, Thread, ThreadKind, Timestamp,
};
use cohort_store::{
    DocData, DocMeta, DocWrite, FtsUpdate, ListFilter, SearchOptions, Store, WriteBatch,
};
use cohort_sync::membership::{Action, DeviceKey, space_id_for};
use lru::LruCache;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::env::{Clock, IdSource, RandomIds, SystemClock};

mod devices;
mod invites;
mod node_link;
mod parallel;
mod received;
pub use invites::refusal_message;
pub use received::{INGEST_BYTES, INGEST_DOCS, PreparedBatch, ReceivedBatch};
mod sync_host;
use crate::error::{CoreError, Result};
use crate::index;
use crate::views::{
    ChangeEvent, ChangeKind, CourseView, DocSummary, HistoryEntry, LessonRef, LessonView, Me,
    ModuleView, SearchResult, SpaceInfo, Stats, ThreadView,
};
use sync_host::SyncState;

/// The database file inside a data dir.
pub const DB_FILE: &str = "cohort.sqlite3";
/// This device's Ed25519 secret key inside a data dir (owner-only permissions).
pub const DEVICE_KEY_FILE: &str = "device.key";
/// The lock file that keeps two processes from writing one data dir.
pub const LOCK_FILE: &str = "cohort.lock";
/// After this many incremental chunks a document is rewritten as one snapshot by the core,
/// which holds it in memory already (cheaper than the store loading it to compact).
pub const COMPACT_AFTER_CHUNKS: usize = 32;

/// A document held in memory, with how many change chunks the store holds after its
/// snapshot.
struct Loaded {
    doc: AutoCommit,
    chunks: usize,
}

/// Capacity of the change-event channel; a subscriber that falls further behind is told it
/// lagged and can re-read.
pub const EVENT_CAPACITY: usize = 1024;

/// How to open a data dir.
pub struct OpenOptions {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The id source.
    pub ids: Box<dyn IdSource>,
    /// The display name for a new profile (first run only).
    pub display_name: Option<String>,
    /// How many documents to keep loaded in memory.
    pub cache_docs: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            clock: Arc::new(SystemClock),
            ids: Box::new(RandomIds),
            display_name: None,
            cache_docs: 256,
        }
    }
}

/// Who this data dir belongs to, kept in the store's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Identity {
    person: PersonId,
    personal_space: SpaceId,
    profile: DocId,
}

/// How a mutation changes full-text entries.
enum Fts {
    /// No searchable text changed.
    Keep,
    /// Re-index the whole document.
    All,
    /// Re-index one post of a thread.
    Post(ItemId),
    /// The body changed by a keystroke-sized edit: mark the rows out of date and re-index
    /// before the next search, not on every keystroke.
    Stale,
}

/// An open data dir: the store, this device's identity, and every command and query.
///
/// Every mutation returns only after its SQLite transaction has committed, and then emits a
/// [`ChangeEvent`].
pub struct Core {
    root: PathBuf,
    store: Store,
    clock: Arc<dyn Clock>,
    ids: Box<dyn IdSource>,
    actor: ActorId,
    key: DeviceKey,
    me: Identity,
    cache: LruCache<DocId, Loaded>,
    events: broadcast::Sender<ChangeEvent>,
    sync: SyncState,
    /// The running node, if any (see [`crate::node`]).
    node: Option<crate::node::NodeLink>,
    // Held for the lifetime of the Core: the OS releases the lock when the file closes.
    _lock: File,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// A batch of document writes that commits as one transaction.
struct Batch {
    now: Timestamp,
    writes: Vec<DocWrite>,
    docs: Vec<(DocId, Loaded)>,
    events: Vec<ChangeEvent>,
}

impl Core {
    /// The platform's default data dir (e.g. `~/.local/share/cohort` on Linux).
    pub fn default_data_dir() -> Option<PathBuf> {
        directories::ProjectDirs::from("org", "Cohort", "cohort").map(|d| d.data_dir().to_owned())
    }

    /// Opens (creating if needed) the data dir at `root`: takes its lock, opens the store,
    /// and on first run creates this device's key (`device.key`, readable by its owner only),
    /// a personal space and a profile.
    pub fn open(root: &Path, options: OpenOptions) -> Result<Core> {
        let io = |source| CoreError::DataDir {
            path: root.to_owned(),
            source,
        };
        std::fs::create_dir_all(root).map_err(io)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join(LOCK_FILE))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CoreError::Locked {
                    path: root.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let store = Store::open(&root.join(DB_FILE))?;
        let OpenOptions {
            clock,
            mut ids,
            display_name,
            cache_docs,
        } = options;
        let key = load_or_create_device_key(root, &mut *ids)?;
        // The device writes with its public key as its Automerge actor id, so every change
        // names the device (and, through the profile, the person) that made it.
        let actor = ActorId::from(key.device_id().0.to_vec());
        let identity = match store.kv_get("me")? {
            Some(bytes) => Some(serde_json::from_slice::<Identity>(&bytes).map_err(|e| {
                CoreError::InvalidInput(format!("the data dir's identity record is damaged: {e}"))
            })?),
            None => None,
        };
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let cap = NonZeroUsize::new(cache_docs.max(1)).unwrap_or(NonZeroUsize::MIN);
        // A new personal space's id is derived from this device's key, like a cohort's, so
        // only this device can sign its membership log's `create` entry (the log lists the
        // person's linked devices).
        let mut personal_nonce = None;
        let me = match identity {
            Some(me) => me,
            None => {
                let person = PersonId::from_bytes(ids.next_id());
                let nonce = ids.next_id();
                personal_nonce = Some(nonce);
                Identity {
                    person,
                    personal_space: space_id_for(&key.device_id(), nonce),
                    profile: DocId::from_bytes(ids.next_id()),
                }
            }
        };
        let mut core = Core {
            root: root.to_owned(),
            store,
            clock,
            ids,
            actor,
            key,
            me,
            cache: LruCache::new(cap),
            events,
            sync: SyncState::new(),
            node: None,
            _lock: lock,
        };
        if let Some(nonce) = personal_nonce {
            core.first_run(display_name.as_deref().unwrap_or("Learner"), nonce)?;
        }
        core.load_memberships()?;
        core.load_joins()?;
        core.load_link()?;
        core.expect_listed_cohorts()?;
        core.load_sync_times()?;
        Ok(core)
    }

    /// Creates the profile and the personal space's membership log (this device its first
    /// device), then records the identity.
    fn first_run(&mut self, display_name: &str, nonce: [u8; 16]) -> Result<()> {
        let me = self.me.clone();
        let actor = self.actor.to_hex_string();
        let device_name = self.device_name();
        let log = self.new_id();
        let create = self.new_item();
        let mut batch = self.batch();
        let entry = Action::Create {
            creator: me.person,
            nonce,
        }
        .signed(&self.key, me.personal_space, create, batch.now);
        self.create_in(&mut batch, me.profile, "create profile", |doc, now| {
            Profile::create(doc, me.profile, me.personal_space, me.person, display_name)?;
            Profile::add_device(doc, &actor, &device_name, now)
        })?;
        self.create_in(&mut batch, log, "create personal membership", |doc, _| {
            Membership::create(doc, log, me.personal_space)?;
            Membership::append(doc, &entry)
        })?;
        self.commit(batch)?;
        let record = serde_json::to_vec(&me)
            .map_err(|e| CoreError::InvalidInput(format!("cannot record identity: {e}")))?;
        self.store.kv_set("me", &record)?;
        Ok(())
    }

    /// The data dir this core has open.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Subscribes to change events.
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.events.subscribe()
    }

    /// The underlying store (for maintenance and benchmarks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A value the data dir keeps outside documents (peer book, sync times, settings).
    pub fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.store.kv_get(key)?)
    }

    /// Stores a value outside documents (see [`Core::setting`]).
    pub fn set_setting(&mut self, key: &str, value: &[u8]) -> Result<()> {
        Ok(self.store.kv_set(key, value)?)
    }

    /// The core's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// This device's secret key bytes, for the network layer's identity.
    pub(crate) fn device_secret(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    // ------------------------------------------------------------------ internals ---

    fn new_id(&mut self) -> DocId {
        DocId::from_bytes(self.ids.next_id())
    }

    fn new_item(&mut self) -> ItemId {
        ItemId::from_bytes(self.ids.next_id())
    }

    fn batch(&self) -> Batch {
        Batch {
            now: self.clock.now(),
            writes: Vec::new(),
            docs: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Takes a document out of the cache (or loads it) for editing. It goes back into the
    /// cache only when its write has committed, so a failed write never leaves unsaved
    /// changes in memory.
    fn take(&mut self, id: DocId) -> Result<Loaded> {
        if let Some(loaded) = self.cache.pop(&id) {
            return Ok(loaded);
        }
        if let Some(loaded) = load_stored(&self.store, id, &self.actor)? {
            return Ok(loaded);
        }
        // Received from a peer and not yet indexed: made now.
        self.settle_one_received(id)?
            .ok_or_else(|| CoreError::not_found("document", id))
    }

    /// A loaded document, for reading.
    fn doc(&mut self, id: DocId) -> Result<&AutoCommit> {
        if !self.cache.contains(&id) {
            let loaded = self.take(id)?;
            self.cache.put(id, loaded);
        }
        self.cache
            .get(&id)
            .map(|l| &l.doc)
            .ok_or_else(|| CoreError::not_found("document", id))
    }

    fn create_in(
        &mut self,
        batch: &mut Batch,
        id: DocId,
        message: &str,
        f: impl FnOnce(&mut AutoCommit, Timestamp) -> model::Result<()>,
    ) -> Result<()> {
        let mut doc = AutoCommit::new().with_actor(self.actor.clone());
        f(&mut doc, batch.now)?;
        doc.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(batch.now.seconds()),
        );
        let meta = index::meta(&mut doc, batch.now)?;
        let fts = FtsUpdate::Replace(index::fts_all(&doc)?);
        batch.events.push(ChangeEvent {
            doc: id,
            space: meta.space,
            kind: meta.kind,
            change: ChangeKind::Created,
        });
        batch.writes.push(DocWrite {
            meta,
            data: DocData::Replace(doc.save()),
            fts,
        });
        batch.docs.push((id, Loaded { doc, chunks: 0 }));
        Ok(())
    }

    fn edit_in<R>(
        &mut self,
        batch: &mut Batch,
        id: DocId,
        message: &str,
        fts: Fts,
        f: impl FnOnce(&mut AutoCommit, Timestamp) -> model::Result<R>,
    ) -> Result<R> {
        let (mut doc, chunks, earlier) = match batch.docs.iter().position(|(d, _)| *d == id) {
            Some(i) => {
                let (_, l) = batch.docs.swap_remove(i);
                (l.doc, l.chunks, true)
            }
            None => {
                let l = self.take(id)?;
                (l.doc, l.chunks, false)
            }
        };
        let before = doc.get_heads();
        let out = match f(&mut doc, batch.now) {
            Ok(out) => out,
            Err(e) => {
                doc.rollback();
                if earlier {
                    batch.docs.push((id, Loaded { doc, chunks }));
                } else {
                    self.cache.put(id, Loaded { doc, chunks });
                }
                return Err(e.into());
            }
        };
        let committed = doc.commit_with(
            CommitOptions::default()
                .with_message(message)
                .with_time(batch.now.seconds()),
        );
        if committed.is_none() {
            batch.docs.push((id, Loaded { doc, chunks }));
            return Ok(out);
        }
        let meta = index::meta(&mut doc, batch.now)?;
        let fts = match fts {
            Fts::Keep => FtsUpdate::Keep,
            Fts::All => FtsUpdate::Replace(index::fts_all(&doc)?),
            Fts::Post(post) => FtsUpdate::Upsert(vec![index::fts_post(&doc, post)?]),
            Fts::Stale => FtsUpdate::MarkStale,
        };
        let change = if meta.deleted {
            ChangeKind::Deleted
        } else {
            ChangeKind::Updated
        };
        batch.events.push(ChangeEvent {
            doc: id,
            space: meta.space,
            kind: meta.kind,
            change,
        });
        // The store applies a batch's writes in order, so a document created earlier in the
        // batch gets this change appended after its snapshot.
        let (data, chunks) = if chunks + 1 >= COMPACT_AFTER_CHUNKS {
            (DocData::Replace(doc.save()), 0)
        } else {
            (DocData::Append(doc.save_after(&before)), chunks + 1)
        };
        batch.writes.push(DocWrite { meta, data, fts });
        batch.docs.push((id, Loaded { doc, chunks }));
        Ok(out)
    }

    /// Writes a batch in one transaction; only then are its documents cached and its events
    /// sent.
    fn commit(&mut self, batch: Batch) -> Result<()> {
        if !batch.writes.is_empty() {
            self.store.write(&WriteBatch {
                docs: batch.writes,
                ..WriteBatch::default()
            })?;
        }
        for (id, doc) in batch.docs {
            self.cache.put(id, doc);
        }
        for event in batch.events {
            self.note_local_change(&event)?;
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
        Ok(())
    }

    fn edit<R>(
        &mut self,
        id: DocId,
        message: &str,
        fts: Fts,
        f: impl FnOnce(&mut AutoCommit, Timestamp) -> model::Result<R>,
    ) -> Result<R> {
        let mut batch = self.batch();
        let out = self.edit_in(&mut batch, id, message, fts, f)?;
        self.commit(batch)?;
        Ok(out)
    }

    fn meta_of(&mut self, id: DocId, kind: DocKind) -> Result<DocMeta> {
        let meta = match self.store.meta(id)? {
            Some(meta) => meta,
            // Received from a peer and not yet indexed: made now.
            None => match self.settle_one_received(id)? {
                Some(loaded) => {
                    self.cache.put(id, loaded);
                    self.store.meta(id)?
                }
                None => None,
            }
            .ok_or_else(|| CoreError::not_found(kind.as_str(), id))?,
        };
        if meta.kind != kind {
            return Err(CoreError::InvalidInput(format!(
                "{} is a {}, not a {}",
                id.short(),
                meta.kind,
                kind
            )));
        }
        Ok(meta)
    }

    /// Checks that `space` is the personal space or a cohort held here.
    fn check_space(&self, space: SpaceId) -> Result<()> {
        if space == self.me.personal_space {
            return Ok(());
        }
        self.charter_id(space).map(drop)
    }

    fn require_text(what: &str, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(CoreError::InvalidInput(format!("{what} cannot be empty")));
        }
        Ok(())
    }

    // ------------------------------------------------------------ identity, spaces ---

    /// Who this device belongs to.
    pub fn me(&mut self) -> Result<Me> {
        let profile = self.me.profile;
        let name = Profile::read(self.doc(profile)?)?.display_name;
        Ok(Me {
            person: self.me.person,
            display_name: name,
            personal_space: self.me.personal_space,
            device: self.key.device_id().to_string(),
        })
    }

    /// Changes this person's display name.
    pub fn set_display_name(&mut self, name: &str) -> Result<()> {
        let profile = self.me.profile;
        let mut batch = self.batch();
        for id in std::iter::once(profile).chain(self.member_cards()?) {
            self.edit_in(&mut batch, id, "rename profile", Fts::Keep, |doc, _| {
                Profile::set_display_name(doc, name)
            })?;
        }
        self.commit(batch)
    }

    /// The personal space.
    pub fn personal_space(&self) -> SpaceId {
        self.me.personal_space
    }

    /// Every space held here: the personal space first, then cohorts by name.
    pub fn spaces(&self) -> Result<Vec<SpaceInfo>> {
        let mut out = vec![SpaceInfo {
            id: self.me.personal_space,
            name: "Personal".into(),
            personal: true,
            role: None,
        }];
        let mut cohorts: Vec<SpaceInfo> = self
            .store
            .list(&ListFilter {
                kinds: Some(vec![DocKind::Charter]),
                ..ListFilter::default()
            })?
            .into_iter()
            .map(|m| SpaceInfo {
                id: m.space,
                name: m.title,
                personal: false,
                role: self
                    .sync
                    .memberships
                    .get(&m.space)
                    .and_then(|state| state.members().get(&self.me.person))
                    .map(|member| member.role),
            })
            .collect();
        cohorts.sort_by_key(|s| s.name.to_lowercase());
        out.extend(cohorts);
        Ok(out)
    }

    /// Finds a space by id, id prefix, or name (case-insensitive); `personal` names the
    /// personal space.
    pub fn resolve_space(&self, text: &str) -> Result<SpaceId> {
        let text = text.trim();
        let spaces = self.spaces()?;
        if text.eq_ignore_ascii_case("personal") {
            return Ok(self.me.personal_space);
        }
        let by_name: Vec<_> = spaces
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case(text))
            .collect();
        if let [one] = by_name.as_slice() {
            return Ok(one.id);
        }
        let lower = text.to_ascii_lowercase();
        let by_id: Vec<_> = spaces
            .iter()
            .filter(|s| !lower.is_empty() && s.id.to_string().starts_with(&lower))
            .collect();
        match (by_name.len(), by_id.as_slice()) {
            (0, [one]) => Ok(one.id),
            (0, []) => Err(CoreError::not_found("space", text)),
            (n, ids) => Err(CoreError::Ambiguous {
                prefix: text.into(),
                count: n.max(ids.len()),
            }),
        }
    }

    /// Creates a cohort space with its charter and membership log; this person is its
    /// facilitator.
    pub fn create_cohort(&mut self, name: &str, purpose: &str) -> Result<SpaceId> {
        Self::require_text("a cohort's name", name)?;
        // Only this device can have made this space id, so only it can sign the log's
        // `create` entry (see cohort_sync::membership).
        let nonce = self.ids.next_id();
        let space = space_id_for(&self.key.device_id(), nonce);
        let (charter, log) = (self.new_id(), self.new_id());
        let create = self.new_item();
        let me = self.me.person;
        let mut batch = self.batch();
        let entry =
            Action::Create { creator: me, nonce }.signed(&self.key, space, create, batch.now);
        self.create_in(&mut batch, charter, "create cohort", |doc, now| {
            Charter::create(doc, charter, space, name, purpose, me, now)
        })?;
        self.create_in(&mut batch, log, "create membership", |doc, _| {
            Membership::create(doc, log, space)?;
            Membership::append(doc, &entry)
        })?;
        self.commit(batch)?;
        self.ensure_member_card(space)?;
        // Lists the cohort in the profile and links this person's other devices to it.
        self.reconcile_devices()?;
        Ok(space)
    }

    /// A cohort's charter.
    pub fn charter(&mut self, space: SpaceId) -> Result<Charter> {
        let id = self.charter_id(space)?;
        Ok(Charter::read(self.doc(id)?)?)
    }

    fn charter_id(&self, space: SpaceId) -> Result<DocId> {
        self.store
            .list(&ListFilter {
                kinds: Some(vec![DocKind::Charter]),
                spaces: Some(vec![space]),
                ..ListFilter::default()
            })?
            .first()
            .map(|m| m.id)
            .ok_or_else(|| CoreError::not_found("cohort", space))
    }

    /// Replaces a cohort's purpose.
    pub fn set_purpose(&mut self, space: SpaceId, purpose: &str) -> Result<()> {
        let id = self.charter_id(space)?;
        self.edit(id, "edit purpose", Fts::All, |doc, _| {
            Charter::set_purpose(doc, purpose)
        })
    }

    /// Adds a norm to a cohort's charter.
    pub fn add_norm(&mut self, space: SpaceId, norm: &str) -> Result<()> {
        Self::require_text("a norm", norm)?;
        let id = self.charter_id(space)?;
        self.edit(id, "add norm", Fts::Keep, |doc, _| {
            Charter::add_norm(doc, norm)
        })
    }

    /// Adds a milestone to a cohort's charter.
    pub fn add_milestone(
        &mut self,
        space: SpaceId,
        title: &str,
        due: Option<Timestamp>,
    ) -> Result<ItemId> {
        Self::require_text("a milestone", title)?;
        let id = self.charter_id(space)?;
        let item = self.new_item();
        self.edit(id, "add milestone", Fts::Keep, |doc, _| {
            Charter::add_milestone(
                doc,
                &Milestone {
                    id: item,
                    title: title.into(),
                    due,
                    done: false,
                },
            )
        })?;
        Ok(item)
    }

    // --------------------------------------------------------------------- lookups ---

    /// Finds a document by full id or unique id prefix (at least 4 hex digits), optionally
    /// of one kind.
    pub fn resolve(&self, text: &str, kind: Option<DocKind>) -> Result<DocId> {
        let text = text.trim().to_ascii_lowercase();
        let what = kind.map_or("document", DocKind::as_str);
        if let Ok(id) = text.parse::<DocId>() {
            return match (self.store.meta(id)?, kind) {
                (Some(m), Some(k)) if m.kind != k => Err(CoreError::InvalidInput(format!(
                    "{} is a {}, not a {k}",
                    id.short(),
                    m.kind
                ))),
                (Some(_), _) => Ok(id),
                (None, _) => Err(CoreError::not_found(what, text)),
            };
        }
        if text.len() < 4 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(CoreError::InvalidInput(format!(
                "{text:?} is not an id: give at least 4 hex digits of it"
            )));
        }
        let matches: Vec<DocMeta> = self
            .store
            .find_by_prefix(&text)?
            .into_iter()
            .filter(|m| kind.is_none_or(|k| m.kind == k))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one.id),
            [] => Err(CoreError::not_found(what, text)),
            many => Err(CoreError::Ambiguous {
                prefix: text,
                count: many.len(),
            }),
        }
    }

    /// The index row of a document.
    pub fn summary(&self, id: DocId) -> Result<DocSummary> {
        self.store
            .meta(id)?
            .map(DocSummary::from)
            .ok_or_else(|| CoreError::not_found("document", id))
    }

    /// Lists documents of some kinds, optionally in one space and under one parent.
    pub fn list(
        &self,
        kinds: &[DocKind],
        space: Option<SpaceId>,
        parent: Option<DocId>,
    ) -> Result<Vec<DocSummary>> {
        self.summaries(&ListFilter {
            kinds: Some(kinds.to_vec()),
            spaces: space.map(|s| vec![s]),
            parent,
            ..ListFilter::default()
        })
    }

    /// Documents of `kinds` in `space` changed after `since`, newest first, at most `limit`:
    /// what changed since someone last looked, without listing everything.
    pub fn changed_since(
        &self,
        kinds: &[DocKind],
        space: SpaceId,
        since: Timestamp,
        limit: usize,
    ) -> Result<Vec<DocSummary>> {
        self.summaries(&ListFilter {
            kinds: Some(kinds.to_vec()),
            spaces: Some(vec![space]),
            updated_after: Some(since),
            limit: Some(limit),
            ..ListFilter::default()
        })
    }

    /// The index rows the store lists for `filter`.
    fn summaries(&self, filter: &ListFilter) -> Result<Vec<DocSummary>> {
        Ok(self
            .store
            .list(filter)?
            .into_iter()
            .map(DocSummary::from)
            .collect())
    }

    // --------------------------------------------------------------------- courses ---

    /// Creates a course in `space`.
    pub fn create_course(&mut self, space: SpaceId, title: &str, summary: &str) -> Result<DocId> {
        Self::require_text("a course title", title)?;
        self.check_space(space)?;
        let id = self.new_id();
        let me = self.me.person;
        let mut batch = self.batch();
        self.create_in(&mut batch, id, "create course", |doc, now| {
            Course::create(
                doc,
                &NewCourse {
                    id,
                    space,
                    title,
                    summary,
                    created_by: me,
                    created_at: now,
                },
            )
        })?;
        self.commit(batch)?;
        Ok(id)
    }

    /// A course with its outline and this learner's completion of each lesson.
    pub fn course(&mut self, id: DocId) -> Result<CourseView> {
        self.meta_of(id, DocKind::Course)?;
        let course = Course::read(self.doc(id)?)?;
        let progress = self.my_progress(course.header.space)?;
        let mut outline = Vec::new();
        for module in &course.modules {
            let mut lessons = Vec::new();
            for lesson in &module.lessons {
                let title = self
                    .store
                    .meta(*lesson)?
                    .map(|m| m.title)
                    .unwrap_or_default();
                let completed = progress
                    .as_ref()
                    .and_then(|p| p.lessons.get(lesson))
                    .is_some_and(|l| l.completed_at.is_some());
                lessons.push(LessonRef {
                    id: *lesson,
                    title,
                    completed,
                });
            }
            outline.push(ModuleView {
                id: module.id,
                title: module.title.clone(),
                lessons,
            });
        }
        Ok(CourseView { course, outline })
    }

    /// Renames a course and/or replaces its summary.
    pub fn update_course(
        &mut self,
        id: DocId,
        title: Option<&str>,
        summary: Option<&str>,
    ) -> Result<()> {
        self.meta_of(id, DocKind::Course)?;
        if let Some(t) = title {
            Self::require_text("a course title", t)?;
        }
        self.edit(id, "edit course", Fts::All, |doc, _| {
            if let Some(t) = title {
                Course::set_title(doc, t)?;
            }
            if let Some(s) = summary {
                Course::set_summary(doc, s)?;
            }
            Ok(())
        })
    }

    /// Adds a module at the end of a course.
    pub fn add_module(&mut self, course: DocId, title: &str) -> Result<ItemId> {
        Self::require_text("a module title", title)?;
        self.meta_of(course, DocKind::Course)?;
        let item = self.new_item();
        self.edit(course, "add module", Fts::Keep, |doc, _| {
            Course::add_module(doc, item, title, None)
        })?;
        Ok(item)
    }

    /// Finds a module of a course by id prefix or 1-based position (`#2` or `2`).
    pub fn resolve_module(&mut self, course: DocId, text: &str) -> Result<ItemId> {
        let modules = Course::read(self.doc(course)?)?.modules;
        let ids: Vec<ItemId> = modules.iter().map(|m| m.id).collect();
        resolve_item(&ids, text, "module")
    }

    /// Creates a lesson and appends it to a module of its course (the last module, or a
    /// new "Module 1" when the course has none), in one transaction.
    pub fn add_lesson(
        &mut self,
        course: DocId,
        module: Option<ItemId>,
        title: &str,
        body: &str,
    ) -> Result<DocId> {
        Self::require_text("a lesson title", title)?;
        let space = self.meta_of(course, DocKind::Course)?.space;
        let modules = Course::read(self.doc(course)?)?.modules;
        let (module, new_module) = match module {
            Some(m) if modules.iter().any(|x| x.id == m) => (m, false),
            Some(m) => return Err(CoreError::not_found("module", m)),
            None => match modules.last() {
                Some(last) => (last.id, false),
                None => (self.new_item(), true),
            },
        };
        let id = self.new_id();
        let me = self.me.person;
        let mut batch = self.batch();
        self.create_in(&mut batch, id, "create lesson", |doc, now| {
            Lesson::create(
                doc,
                &NewLesson {
                    id,
                    space,
                    course,
                    title,
                    body,
                    created_by: me,
                    created_at: now,
                },
            )
        })?;
        self.edit_in(&mut batch, course, "add lesson", Fts::Keep, |doc, _| {
            if new_module {
                Course::add_module(doc, module, "Module 1", None)?;
            }
            Course::place_lesson(doc, module, id, None)
        })?;
        self.commit(batch)?;
        Ok(id)
    }

    /// A lesson with its threads and this learner's progress in it.
    pub fn lesson(&mut self, id: DocId) -> Result<LessonView> {
        self.meta_of(id, DocKind::Lesson)?;
        let lesson = Lesson::read(self.doc(id)?)?;
        let threads = self.list(&[DocKind::Thread], Some(lesson.header.space), Some(id))?;
        let progress = self
            .my_progress(lesson.header.space)?
            .and_then(|mut p| p.lessons.remove(&id))
            .unwrap_or_default();
        Ok(LessonView {
            lesson,
            threads,
            progress,
        })
    }

    /// Applies editor splices (UTF-16 positions) to a lesson body, as one change.
    pub fn splice_lesson(&mut self, id: DocId, splices: &[Splice]) -> Result<()> {
        self.meta_of(id, DocKind::Lesson)?;
        self.edit(id, "edit lesson", Fts::Stale, |doc, _| {
            splices.iter().try_for_each(|s| Lesson::splice_body(doc, s))
        })
    }

    /// Replaces a lesson's title and/or body (the body by the smallest text edit).
    pub fn update_lesson(
        &mut self,
        id: DocId,
        title: Option<&str>,
        body: Option<&str>,
    ) -> Result<()> {
        self.meta_of(id, DocKind::Lesson)?;
        if let Some(t) = title {
            Self::require_text("a lesson title", t)?;
        }
        self.edit(id, "edit lesson", Fts::All, |doc, _| {
            if let Some(t) = title {
                Lesson::set_title(doc, t)?;
            }
            if let Some(b) = body {
                Lesson::set_body(doc, b)?;
            }
            Ok(())
        })
    }

    /// Adds a checklist item to a lesson.
    pub fn add_checklist_item(&mut self, lesson: DocId, text: &str) -> Result<ItemId> {
        Self::require_text("a checklist item", text)?;
        self.meta_of(lesson, DocKind::Lesson)?;
        let id = self.new_item();
        self.edit(lesson, "add checklist item", Fts::Keep, |doc, _| {
            Lesson::add_checklist_item(
                doc,
                &ChecklistItem {
                    id,
                    text: text.into(),
                },
            )
        })?;
        Ok(id)
    }

    /// Adds a self-check question to a lesson.
    pub fn add_question(
        &mut self,
        lesson: DocId,
        prompt: &str,
        answer: &str,
        choices: &[String],
    ) -> Result<ItemId> {
        Self::require_text("a question", prompt)?;
        self.meta_of(lesson, DocKind::Lesson)?;
        let id = self.new_item();
        self.edit(lesson, "add question", Fts::Keep, |doc, _| {
            Lesson::add_question(
                doc,
                &Question {
                    id,
                    prompt: prompt.into(),
                    answer: answer.into(),
                    choices: choices.to_vec(),
                },
            )
        })?;
        Ok(id)
    }

    /// Stores a file in the blob store and attaches it to a lesson.
    pub fn attach(&mut self, lesson: DocId, name: &str, mime: &str, data: &[u8]) -> Result<String> {
        Self::require_text("a file name", name)?;
        self.meta_of(lesson, DocKind::Lesson)?;
        let hash = self.store.put_blob(data)?.to_string();
        let size = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.edit(lesson, "attach file", Fts::Keep, |doc, _| {
            Lesson::add_attachment(
                doc,
                &Attachment {
                    hash: hash.clone(),
                    name: name.into(),
                    mime: mime.into(),
                    size,
                },
            )
        })?;
        Ok(hash)
    }

    /// The bytes of an attachment.
    pub fn blob(&self, hash: &str) -> Result<Vec<u8>> {
        let parsed = hash
            .parse()
            .map_err(|_| CoreError::InvalidInput(format!("{hash:?} is not a blob hash")))?;
        self.store
            .get_blob(&parsed)?
            .ok_or_else(|| CoreError::not_found("attachment", hash))
    }

    // --------------------------------------------------------------------- threads ---

    /// Opens a thread in `space`, optionally about a lesson and anchored to the UTF-16
    /// range `anchor` of its body.
    pub fn new_thread(
        &mut self,
        space: SpaceId,
        kind: ThreadKind,
        title: &str,
        body: &str,
        lesson: Option<DocId>,
        anchor: Option<(usize, usize)>,
    ) -> Result<DocId> {
        Self::require_text("a thread title", title)?;
        self.check_space(space)?;
        let anchor: Option<Anchor> = match (lesson, anchor) {
            (Some(l), Some((start, end))) => {
                if self.meta_of(l, DocKind::Lesson)?.space != space {
                    return Err(CoreError::InvalidInput(
                        "a thread must be in the same space as its lesson".into(),
                    ));
                }
                Some(Lesson::anchor(self.doc(l)?, start, end)?)
            }
            (Some(l), None) => {
                if self.meta_of(l, DocKind::Lesson)?.space != space {
                    return Err(CoreError::InvalidInput(
                        "a thread must be in the same space as its lesson".into(),
                    ));
                }
                None
            }
            (None, Some(_)) => {
                return Err(CoreError::InvalidInput(
                    "an anchor needs the lesson it points into".into(),
                ));
            }
            (None, None) => None,
        };
        let id = self.new_id();
        let post = self.new_item();
        let me = self.me.person;
        let mut batch = self.batch();
        self.create_in(&mut batch, id, "open thread", |doc, now| {
            Thread::create(
                doc,
                &NewThread {
                    id,
                    space,
                    kind,
                    title,
                    lesson,
                    anchor: anchor.as_ref(),
                    first_post: NewPost {
                        id: post,
                        author: me,
                        body,
                        at: now,
                        reply_to: None,
                    },
                },
            )
        })?;
        self.commit(batch)?;
        Ok(id)
    }

    /// A thread with its anchor resolved against the current lesson text.
    pub fn thread(&mut self, id: DocId) -> Result<ThreadView> {
        self.meta_of(id, DocKind::Thread)?;
        let thread = Thread::read(self.doc(id)?)?;
        let anchor = match &thread.anchor {
            Some(a) if self.store.meta(a.lesson)?.is_some() => {
                Some(Lesson::resolve_anchor(self.doc(a.lesson)?, a)?)
            }
            _ => None,
        };
        let names = self.people()?;
        let people = thread
            .posts
            .iter()
            .map(|p| p.author)
            .chain(std::iter::once(thread.created_by))
            .map(|p| {
                let name = names.get(&p).cloned().unwrap_or_else(|| p.short());
                (p, name)
            })
            .collect();
        Ok(ThreadView {
            thread,
            anchor,
            people,
        })
    }

    /// Finds a post of a thread by id prefix or 1-based position (`#2` or `2`).
    pub fn resolve_post(&mut self, thread: DocId, text: &str) -> Result<ItemId> {
        self.meta_of(thread, DocKind::Thread)?;
        let posts = Thread::read(self.doc(thread)?)?.posts;
        let ids: Vec<ItemId> = posts.iter().map(|p| p.id).collect();
        resolve_item(&ids, text, "post")
    }

    /// Adds a reply to a thread.
    pub fn reply(&mut self, thread: DocId, body: &str, reply_to: Option<ItemId>) -> Result<ItemId> {
        Self::require_text("a reply", body)?;
        self.meta_of(thread, DocKind::Thread)?;
        let post = self.new_item();
        let me = self.me.person;
        self.edit(thread, "reply", Fts::Post(post), |doc, now| {
            Thread::reply(
                doc,
                &NewPost {
                    id: post,
                    author: me,
                    body,
                    at: now,
                    reply_to,
                },
            )
        })?;
        Ok(post)
    }

    /// Edits one of this person's posts.
    pub fn edit_post(&mut self, thread: DocId, post: ItemId, body: &str) -> Result<()> {
        self.meta_of(thread, DocKind::Thread)?;
        let author = Thread::read_post(self.doc(thread)?, post)?.author;
        if author != self.me.person {
            return Err(CoreError::InvalidInput(
                "only a post's author can edit it".into(),
            ));
        }
        self.edit(thread, "edit post", Fts::Post(post), |doc, now| {
            Thread::set_post_body(doc, post, body, now)
        })
    }

    /// Adds or removes this person's reaction to a post.
    pub fn react(&mut self, thread: DocId, post: ItemId, reaction: &str, on: bool) -> Result<()> {
        self.meta_of(thread, DocKind::Thread)?;
        let me = self.me.person;
        self.edit(thread, "react", Fts::Keep, |doc, _| {
            Thread::react(doc, post, reaction, me, on)
        })
    }

    /// Accepts a post as the answer of a question thread (or clears it with `None`).
    pub fn accept(&mut self, thread: DocId, post: Option<ItemId>) -> Result<()> {
        self.meta_of(thread, DocKind::Thread)?;
        self.edit(thread, "accept answer", Fts::Keep, |doc, _| {
            Thread::accept(doc, post)
        })
    }

    // ------------------------------------------------------------ notes, journal ---

    /// Writes a note in `space` (optionally forked from a lesson).
    pub fn new_note(
        &mut self,
        space: SpaceId,
        title: &str,
        body: &str,
        tags: &[String],
        source: Option<DocId>,
    ) -> Result<DocId> {
        Self::require_text("a note title", title)?;
        self.check_space(space)?;
        self.create_text(DocKind::Note, space, title, body, tags, source)
    }

    fn create_text(
        &mut self,
        kind: DocKind,
        space: SpaceId,
        title: &str,
        body: &str,
        tags: &[String],
        origin: Option<DocId>,
    ) -> Result<DocId> {
        let id = self.new_id();
        let me = self.me.person;
        let mut batch = self.batch();
        self.create_in(&mut batch, id, "create", |doc, now| {
            let new = NewText {
                id,
                space,
                title,
                body,
                tags,
                created_by: me,
                created_at: now,
                origin,
            };
            if kind == DocKind::Note {
                Note::create(doc, &new)
            } else {
                JournalEntry::create(doc, &new)
            }
        })?;
        self.commit(batch)?;
        Ok(id)
    }

    /// A note.
    pub fn note(&mut self, id: DocId) -> Result<Note> {
        self.meta_of(id, DocKind::Note)?;
        Ok(Note::read(self.doc(id)?)?)
    }

    /// Applies editor splices to a note or journal entry body.
    pub fn splice_text_doc(&mut self, id: DocId, splices: &[Splice]) -> Result<()> {
        let kind = self.summary(id)?.kind;
        self.edit(id, "edit", Fts::Stale, |doc, _| {
            splices.iter().try_for_each(|s| match kind {
                DocKind::Note => Note::splice_body(doc, s),
                DocKind::JournalEntry => JournalEntry::splice_body(doc, s),
                DocKind::Lesson => Lesson::splice_body(doc, s),
                other => Err(model::ModelError::InvalidEdit(format!(
                    "a {other} has no body to edit"
                ))),
            })
        })
    }

    /// Writes a journal entry in the personal space (private to this person's devices).
    pub fn add_journal(&mut self, title: &str, body: &str, tags: &[String]) -> Result<DocId> {
        Self::require_text("a journal entry title", title)?;
        let space = self.me.personal_space;
        self.create_text(DocKind::JournalEntry, space, title, body, tags, None)
    }

    /// A journal entry.
    pub fn journal_entry(&mut self, id: DocId) -> Result<JournalEntry> {
        self.meta_of(id, DocKind::JournalEntry)?;
        Ok(JournalEntry::read(self.doc(id)?)?)
    }

    /// Shares one private journal entry into a cohort as a copy; the private entry records
    /// the copy. Returns the copy.
    pub fn share_journal(&mut self, entry: DocId, space: SpaceId) -> Result<DocId> {
        let original = self.journal_entry(entry)?;
        if original.header.space != self.me.personal_space {
            return Err(CoreError::InvalidInput(
                "only a private journal entry can be shared".into(),
            ));
        }
        if space == self.me.personal_space {
            return Err(CoreError::InvalidInput(
                "share into a cohort, not the personal space".into(),
            ));
        }
        self.check_space(space)?;
        let copy = self.new_id();
        let me = self.me.person;
        let mut batch = self.batch();
        self.create_in(&mut batch, copy, "share journal entry", |doc, now| {
            JournalEntry::create(
                doc,
                &NewText {
                    id: copy,
                    space,
                    title: &original.title,
                    body: &original.body,
                    tags: &original.tags,
                    created_by: me,
                    created_at: now,
                    origin: Some(entry),
                },
            )
        })?;
        self.edit_in(&mut batch, entry, "record share", Fts::Keep, |doc, _| {
            JournalEntry::set_shared_as(doc, copy)
        })?;
        self.commit(batch)?;
        Ok(copy)
    }

    // -------------------------------------------------------------------- progress ---

    fn progress_id(&self, space: SpaceId) -> DocId {
        let mut h = blake3::Hasher::new();
        h.update(b"cohort progress v1");
        h.update(self.me.person.as_bytes());
        h.update(space.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&h.finalize().as_bytes()[..16]);
        DocId::from_bytes(id)
    }

    /// This person's progress in `space`, if they have made any.
    pub fn my_progress(&mut self, space: SpaceId) -> Result<Option<Progress>> {
        let id = self.progress_id(space);
        if self.store.meta(id)?.is_none() {
            return Ok(None);
        }
        Ok(Some(Progress::read(self.doc(id)?)?))
    }

    fn edit_progress(
        &mut self,
        lesson: DocId,
        message: &str,
        f: impl FnOnce(&mut AutoCommit, Timestamp) -> model::Result<()>,
    ) -> Result<()> {
        let space = self.meta_of(lesson, DocKind::Lesson)?.space;
        let id = self.progress_id(space);
        let me = self.me.person;
        let mut batch = self.batch();
        if self.store.meta(id)?.is_none() {
            self.create_in(&mut batch, id, "start progress", |doc, _| {
                Progress::create(doc, id, space, me)
            })?;
        }
        self.edit_in(&mut batch, id, message, Fts::Keep, f)?;
        self.commit(batch)
    }

    /// Marks a lesson complete (or not).
    pub fn complete_lesson(&mut self, lesson: DocId, done: bool) -> Result<()> {
        self.edit_progress(lesson, "complete lesson", |doc, now| {
            Progress::set_complete(doc, lesson, done.then_some(now))
        })
    }

    /// Ticks (or unticks) a checklist item of a lesson.
    pub fn tick(&mut self, lesson: DocId, item: ItemId, done: bool) -> Result<()> {
        let items = Lesson::read(self.doc(lesson)?)?.checklist;
        if !items.iter().any(|i| i.id == item) {
            return Err(CoreError::not_found("checklist item", item));
        }
        self.edit_progress(lesson, "tick", |doc, _| {
            Progress::tick(doc, lesson, item, done)
        })
    }

    /// Finds a checklist item of a lesson by id prefix or 1-based position.
    pub fn resolve_checklist_item(&mut self, lesson: DocId, text: &str) -> Result<ItemId> {
        self.meta_of(lesson, DocKind::Lesson)?;
        let ids: Vec<ItemId> = Lesson::read(self.doc(lesson)?)?
            .checklist
            .iter()
            .map(|i| i.id)
            .collect();
        resolve_item(&ids, text, "checklist item")
    }

    /// Finds a self-check question of a lesson by id prefix or 1-based position.
    pub fn resolve_question(&mut self, lesson: DocId, text: &str) -> Result<ItemId> {
        self.meta_of(lesson, DocKind::Lesson)?;
        let ids: Vec<ItemId> = Lesson::read(self.doc(lesson)?)?
            .questions
            .iter()
            .map(|q| q.id)
            .collect();
        resolve_item(&ids, text, "question")
    }

    /// Records an answer to a lesson's self-check question.
    pub fn answer(&mut self, lesson: DocId, question: ItemId, answer: &str) -> Result<()> {
        let questions = Lesson::read(self.doc(lesson)?)?.questions;
        if !questions.iter().any(|q| q.id == question) {
            return Err(CoreError::not_found("question", question));
        }
        self.edit_progress(lesson, "answer", |doc, _| {
            Progress::answer(doc, lesson, question, answer)
        })
    }

    // ----------------------------------------------------------- search, history ---

    /// Full-text search over lessons, posts, notes, journal entries, courses and charters
    /// held here, best match first.
    pub fn search(
        &mut self,
        query: &str,
        space: Option<SpaceId>,
        kinds: Option<&[DocKind]>,
        limit: usize,
    ) -> Result<Vec<SearchResult>> {
        self.refresh_stale_fts()?;
        let hits = self.store.search(
            query,
            &SearchOptions {
                spaces: space.map(|s| vec![s]),
                kinds: kinds.map(<[DocKind]>::to_vec),
                limit: limit.clamp(1, 500),
            },
        )?;
        Ok(hits
            .into_iter()
            .map(|h| {
                let (snippet, highlights) = split_highlights(&h.snippet);
                SearchResult {
                    doc: h.doc,
                    part: h.part,
                    kind: h.kind,
                    space: h.space,
                    title: h.title,
                    snippet,
                    highlights,
                }
            })
            .collect())
    }

    /// Re-indexes the documents whose full-text rows were marked out of date, in one
    /// transaction.
    fn refresh_stale_fts(&mut self) -> Result<()> {
        let stale = self.store.stale_fts()?;
        let mut writes = Vec::with_capacity(stale.len());
        for id in stale {
            let Some(meta) = self.store.meta(id)? else {
                continue;
            };
            let fts = FtsUpdate::Replace(index::fts_all(self.doc(id)?)?);
            writes.push(DocWrite {
                meta,
                data: DocData::MetaOnly,
                fts,
            });
        }
        if !writes.is_empty() {
            self.store.write(&WriteBatch {
                docs: writes,
                ..WriteBatch::default()
            })?;
        }
        Ok(())
    }

    /// Display names of every person whose profile is held here.
    fn people(&mut self) -> Result<BTreeMap<PersonId, String>> {
        let mut out = BTreeMap::new();
        for meta in self.store.list(&ListFilter {
            kinds: Some(vec![DocKind::Profile]),
            ..ListFilter::default()
        })? {
            if let Ok(profile) = Profile::read(self.doc(meta.id)?) {
                out.insert(profile.person, profile.display_name);
            }
        }
        Ok(out)
    }

    /// Who changed a document, what and when, oldest first.
    pub fn history(&mut self, id: DocId) -> Result<Vec<HistoryEntry>> {
        self.summary(id)?;
        let mut authors: BTreeMap<String, String> = BTreeMap::new();
        for meta in self.store.list(&ListFilter {
            kinds: Some(vec![DocKind::Profile]),
            ..ListFilter::default()
        })? {
            if let Ok(profile) = Profile::read(self.doc(meta.id)?) {
                for device in profile.devices {
                    authors.insert(device.actor, profile.display_name.clone());
                }
            }
        }
        let mut loaded = self.take(id)?;
        let out = loaded
            .doc
            .get_changes(&[])
            .iter()
            .map(|c| {
                let actor = c.actor_id().to_hex_string();
                HistoryEntry {
                    hash: c.hash().to_string(),
                    author: authors.get(&actor).cloned(),
                    actor,
                    at: Timestamp(c.timestamp().saturating_mul(1000)),
                    message: c.message().map(str::to_owned).unwrap_or_default(),
                    ops: c.len(),
                }
            })
            .collect();
        self.cache.put(id, loaded);
        Ok(out)
    }

    // ------------------------------------------------------------- import, export ---

    /// The document as Automerge bytes (its whole history).
    pub fn export_automerge(&mut self, id: DocId) -> Result<Vec<u8>> {
        self.summary(id)?;
        let mut loaded = self.take(id)?;
        let bytes = loaded.doc.save();
        self.cache.put(id, loaded);
        Ok(bytes)
    }

    /// The document's current content as JSON, typed by its kind.
    pub fn export_json(&mut self, id: DocId) -> Result<serde_json::Value> {
        let kind = self.summary(id)?.kind;
        let doc = self.doc(id)?;
        let value = match kind {
            DocKind::Profile => serde_json::to_value(Profile::read(doc)?),
            DocKind::Charter => serde_json::to_value(Charter::read(doc)?),
            DocKind::Membership => serde_json::to_value(Membership::read(doc)?),
            DocKind::Course => serde_json::to_value(Course::read(doc)?),
            DocKind::Lesson => serde_json::to_value(Lesson::read(doc)?),
            DocKind::Thread => serde_json::to_value(Thread::read(doc)?),
            DocKind::Note => serde_json::to_value(Note::read(doc)?),
            DocKind::JournalEntry => serde_json::to_value(JournalEntry::read(doc)?),
            DocKind::Progress => serde_json::to_value(Progress::read(doc)?),
        };
        value.map_err(|e| CoreError::InvalidInput(format!("cannot export as JSON: {e}")))
    }

    /// Imports an Automerge file: validates it as a Cohort document, merges it into the
    /// copy held here (if any), and stores the result. Returns the document's id.
    pub fn import_automerge(&mut self, bytes: &[u8]) -> Result<DocId> {
        let mut ids = self.import_batch(&[bytes])?;
        ids.pop()
            .ok_or_else(|| CoreError::InvalidInput("nothing to import".into()))
    }

    /// Imports many Automerge documents in one transaction (bulk import): each is
    /// validated and merged like [`Core::import_automerge`]; if any is invalid, nothing is
    /// written.
    pub fn import_batch(&mut self, files: &[&[u8]]) -> Result<Vec<DocId>> {
        let mut batch = self.batch();
        let mut ids = Vec::with_capacity(files.len());
        for bytes in files {
            ids.push(self.prepare_import(&mut batch, bytes)?);
        }
        self.commit(batch)?;
        Ok(ids)
    }

    fn prepare_import(&mut self, batch: &mut Batch, bytes: &[u8]) -> Result<DocId> {
        let (mut incoming, header) = model::load(bytes)?;
        // Validate the whole document, not only its header.
        match header.kind {
            DocKind::Profile => Profile::read(&incoming).map(drop),
            DocKind::Charter => Charter::read(&incoming).map(drop),
            DocKind::Membership => Membership::read(&incoming).map(drop),
            DocKind::Course => Course::read(&incoming).map(drop),
            DocKind::Lesson => Lesson::read(&incoming).map(drop),
            DocKind::Thread => Thread::read(&incoming).map(drop),
            DocKind::Note => Note::read(&incoming).map(drop),
            DocKind::JournalEntry => JournalEntry::read(&incoming).map(drop),
            DocKind::Progress => Progress::read(&incoming).map(drop),
        }?;
        let id = header.id;
        let in_batch = batch.docs.iter().position(|(d, _)| *d == id);
        let (mut doc, merged) = match (in_batch, self.store.meta(id)?) {
            (Some(i), _) => {
                let (_, mut loaded) = batch.docs.swap_remove(i);
                loaded
                    .doc
                    .merge(&mut incoming)
                    .map_err(model::ModelError::from)?;
                // One write and one event per document, however often it is in the batch.
                batch.writes.retain(|w| w.meta.id != id);
                batch.events.retain(|e| e.doc != id);
                (loaded.doc, true)
            }
            (None, Some(meta)) => {
                if meta.space != header.space || meta.kind != header.kind {
                    return Err(CoreError::InvalidInput(format!(
                        "the file claims to be document {} but its kind or space differs from the copy held here",
                        id.short()
                    )));
                }
                let mut loaded = self.take(id)?;
                if let Err(e) = loaded.doc.merge(&mut incoming) {
                    self.cache.put(id, loaded);
                    return Err(model::ModelError::from(e).into());
                }
                (loaded.doc, true)
            }
            (None, None) => {
                incoming.set_actor(self.actor.clone());
                (incoming, false)
            }
        };
        // The merged result must still be a valid document of the same kind.
        model::expect_kind(&doc, header.kind)?;
        let meta = index::meta(&mut doc, batch.now)?;
        let fts = FtsUpdate::Replace(index::fts_all(&doc)?);
        // A document new here is stored as the bytes it came in (they load, as checked).
        let snapshot = if merged { doc.save() } else { bytes.to_vec() };
        batch.writes.push(DocWrite {
            meta,
            data: DocData::Replace(snapshot),
            fts,
        });
        batch.docs.push((id, Loaded { doc, chunks: 0 }));
        batch.events.push(ChangeEvent {
            doc: id,
            space: header.space,
            kind: header.kind,
            change: ChangeKind::Imported,
        });
        Ok(id)
    }

    /// Marks a document deleted (it stays in history and syncs as deleted).
    pub fn delete(&mut self, id: DocId) -> Result<()> {
        let meta = self.summary(id)?;
        if matches!(
            meta.kind,
            DocKind::Profile | DocKind::Membership | DocKind::Charter
        ) {
            return Err(CoreError::InvalidInput(format!(
                "a {} cannot be deleted",
                meta.kind
            )));
        }
        self.edit(id, "delete", Fts::All, |doc, _| {
            model::set_deleted(doc, true)
        })
    }

    // ---------------------------------------------------------------- maintenance ---

    /// Compacts every document's change chunks into its snapshot.
    pub fn compact(&mut self) -> Result<()> {
        self.store.compact_all()?;
        Ok(())
    }

    /// Storage statistics.
    pub fn stats(&self) -> Result<Stats> {
        let s = self.store.stats()?;
        Ok(Stats {
            docs: s.docs,
            chunks: s.chunks,
            snapshot_bytes: s.snapshot_bytes,
            chunk_bytes: s.chunk_bytes,
            file_bytes: s.file_bytes,
        })
    }

    /// Checks the database's integrity.
    pub fn check(&self) -> Result<()> {
        Ok(self.store.integrity_check()?)
    }

    /// Reads every document once to check that it loads and validates; returns the ids of
    /// those that do not, with the reason.
    pub fn verify_documents(&mut self) -> Result<Vec<(DocId, String)>> {
        let metas = self.store.list(&ListFilter {
            include_deleted: true,
            ..ListFilter::default()
        })?;
        let mut bad = Vec::new();
        for meta in metas {
            if let Err(e) = self.export_json(meta.id) {
                bad.push((meta.id, e.to_string()));
            }
        }
        Ok(bad)
    }
}

/// Loads a stored document (snapshot, then its change chunks) to edit as `actor`.
fn load_stored(store: &Store, id: DocId, actor: &ActorId) -> Result<Option<Loaded>> {
    let Some(stored) = store.load(id)? else {
        return Ok(None);
    };
    let mut doc = AutoCommit::load(&stored.snapshot).map_err(model::ModelError::from)?;
    for chunk in &stored.chunks {
        doc.load_incremental(chunk)
            .map_err(model::ModelError::from)?;
    }
    doc.set_actor(actor.clone());
    Ok(Some(Loaded {
        doc,
        chunks: stored.chunks.len(),
    }))
}

/// Reads this data dir's device key, or creates it (readable and writable by its owner
/// only) on first run.
fn load_or_create_device_key(root: &Path, ids: &mut dyn IdSource) -> Result<DeviceKey> {
    use std::io::{Read, Write};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let path = root.join(DEVICE_KEY_FILE);
    let err = |source| CoreError::DataDir {
        path: path.clone(),
        source,
    };
    match File::open(&path) {
        Ok(mut file) => {
            let mut bytes = Vec::with_capacity(32);
            Read::by_ref(&mut file)
                .take(33)
                .read_to_end(&mut bytes)
                .map_err(err)?;
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
                err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the device key is damaged (it must be 32 bytes)",
                ))
            })?;
            // Tighten permissions that someone loosened.
            let meta = file.metadata().map_err(err)?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(err)?;
            }
            Ok(DeviceKey::from_bytes(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            secret[..16].copy_from_slice(&ids.next_id());
            secret[16..].copy_from_slice(&ids.next_id());
            let key = DeviceKey::generate(secret);
            let mut file = File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(err)?;
            file.write_all(&key.to_bytes()).map_err(err)?;
            file.sync_all().map_err(err)?;
            Ok(key)
        }
        Err(e) => Err(err(e)),
    }
}

/// Turns the store's marked snippet into plain text plus byte ranges of the matches.
fn split_highlights(marked: &str) -> (String, Vec<[usize; 2]>) {
    let mut text = String::with_capacity(marked.len());
    let mut ranges = Vec::new();
    let mut open = None;
    for c in marked.chars() {
        if c.to_string() == cohort_store::SNIPPET_START {
            open = Some(text.len());
        } else if c.to_string() == cohort_store::SNIPPET_END {
            if let Some(start) = open.take() {
                ranges.push([start, text.len()]);
            }
        } else {
            text.push(c);
        }
    }
    (text, ranges)
}

/// Finds an item among `ids` by 1-based position (`#2` or `2`) or by unique hex prefix.
fn resolve_item(ids: &[ItemId], text: &str, what: &'static str) -> Result<ItemId> {
    let text = text.trim().to_ascii_lowercase();
    let number = text.strip_prefix('#').unwrap_or(&text);
    if let Ok(n) = number.parse::<usize>()
        && (text.starts_with('#') || number.len() < 4)
    {
        return n
            .checked_sub(1)
            .and_then(|i| ids.get(i))
            .copied()
            .ok_or_else(|| CoreError::not_found(what, &text));
    }
    let matches: Vec<&ItemId> = ids
        .iter()
        .filter(|id| !text.is_empty() && id.to_string().starts_with(&text))
        .collect();
    match matches.as_slice() {
        [one] => Ok(**one),
        [] => Err(CoreError::not_found(what, text)),
        many => Err(CoreError::Ambiguous {
            prefix: text,
            count: many.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_become_byte_ranges() {
        let marked = format!(
            "a {}cat{} and a {}dög{}",
            cohort_store::SNIPPET_START,
            cohort_store::SNIPPET_END,
            cohort_store::SNIPPET_START,
            cohort_store::SNIPPET_END
        );
        let (text, ranges) = split_highlights(&marked);
        assert_eq!(text, "a cat and a dög");
        assert_eq!(ranges, vec![[2, 5], [12, 16]]);
        assert_eq!(&text[12..16], "dög");
    }

    #[test]
    fn items_resolve_by_position_or_prefix() {
        let ids = [
            ItemId::from_bytes([0xab; 16]),
            ItemId::from_bytes([0xcd; 16]),
        ];
        assert_eq!(resolve_item(&ids, "#2", "post").ok(), Some(ids[1]));
        assert_eq!(resolve_item(&ids, "1", "post").ok(), Some(ids[0]));
        assert_eq!(resolve_item(&ids, "cdcd", "post").ok(), Some(ids[1]));
        assert!(resolve_item(&ids, "#3", "post").is_err());
        assert!(resolve_item(&ids, "ffff", "post").is_err());
    }
}
