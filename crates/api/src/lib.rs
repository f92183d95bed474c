//! The one surface every Cohort adapter (the `cohort` command line, the desktop shell, the
//! web server) uses.
//!
//! [`Api`] wraps an open data dir and offers one function per command or query. Arguments
//! and results are plain serializable types (DTOs, re-exported here), and every failure is an
//! [`ApiError`] `{ code, message }` whose [`ErrorCode`] comes from a closed set, so adapters
//! branch on codes and show messages to people.
//!
//! ```
//! use cohort_api::{Api, ErrorCode, OpenOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let mut api = Api::open(dir.path(), OpenOptions::default())?;
//! let space = api.create_cohort("Reading group", "One chapter a week")?;
//! let course = api.create_course(space, "Middlemarch", "")?;
//! assert_eq!(api.courses(None)?.len(), 1);
//! let err = api.resolve("zzzz", None).unwrap_err();
//! assert_eq!(err.code, ErrorCode::InvalidInput);
//! # let _ = course;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod call;
mod error;

use std::path::{Path, PathBuf};

pub use call::{COMMANDS, EventMessage, typescript_bindings};
use cohort_core::Core;
pub use cohort_core::node::{CoreHost, Node, NodeConfig};
pub use cohort_core::{
    ChangeEvent, ChangeKind, Clock, CourseView, DocSummary, HistoryEntry, IdSource, LessonRef,
    LessonView, ManualClock, Me, MemberView, ModuleView, OpenOptions, RandomIds, SearchResult,
    SequentialIds, SpaceInfo, Stats, SystemClock, ThreadView,
};
pub use cohort_core::{
    DeviceAddView, DeviceLinkView, DeviceView, InviteView, JoinView, LinkingView, PeerView,
    SpaceSyncView, SyncNotice, SyncNoticeKind,
};
pub use cohort_model::Role;
pub use cohort_model::{
    AnchorState, Charter, Course, DocId, DocKind, ItemId, JournalEntry, Lesson, LessonProgress,
    Note, PersonId, Post, Progress, SpaceId, Splice, Thread, ThreadKind, Timestamp, utf16_len,
};
pub use error::{ApiError, ApiResult, ErrorCode};

/// The most documents [`Api::changes`] returns at once.
pub const MAX_CHANGES: usize = 500;

/// An open data dir and every command and query over it.
#[derive(Debug)]
pub struct Api {
    core: Core,
}

macro_rules! delegate {
    ($( $(#[$doc:meta])* fn $name:ident(&mut self $(, $arg:ident : $ty:ty)* ) -> $ret:ty; )*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut self $(, $arg: $ty)*) -> ApiResult<$ret> {
                Ok(self.core.$name($($arg),*)?)
            }
        )*
    };
}

impl Api {
    /// Opens (creating on first run) the data dir at `root`.
    pub fn open(root: &Path, options: OpenOptions) -> ApiResult<Api> {
        Ok(Api {
            core: Core::open(root, options)?,
        })
    }

    /// The platform's default data dir.
    pub fn default_data_dir() -> Option<PathBuf> {
        Core::default_data_dir()
    }

    /// The open data dir.
    pub fn root(&self) -> &Path {
        self.core.root()
    }

    /// Subscribes to change events (bounded: a subscriber that lags is told so).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<ChangeEvent> {
        self.core.subscribe()
    }

    /// Courses, optionally of one space.
    pub fn courses(&mut self, space: Option<SpaceId>) -> ApiResult<Vec<DocSummary>> {
        Ok(self.core.list(&[DocKind::Course], space, None)?)
    }

    /// Threads, optionally of one space and about one lesson.
    pub fn threads(
        &mut self,
        space: Option<SpaceId>,
        lesson: Option<DocId>,
    ) -> ApiResult<Vec<DocSummary>> {
        Ok(self.core.list(&[DocKind::Thread], space, lesson)?)
    }

    /// Notes, optionally of one space.
    pub fn notes(&mut self, space: Option<SpaceId>) -> ApiResult<Vec<DocSummary>> {
        Ok(self.core.list(&[DocKind::Note], space, None)?)
    }

    /// This person's private journal entries.
    pub fn journal(&mut self) -> ApiResult<Vec<DocSummary>> {
        let personal = self.core.personal_space();
        Ok(self
            .core
            .list(&[DocKind::JournalEntry], Some(personal), None)?)
    }

    /// Documents of any kinds.
    pub fn list(
        &mut self,
        kinds: &[DocKind],
        space: Option<SpaceId>,
        parent: Option<DocId>,
    ) -> ApiResult<Vec<DocSummary>> {
        Ok(self.core.list(kinds, space, parent)?)
    }

    /// Documents of `kinds` in `space` changed after `since`, newest first, at most `limit`
    /// (at most [`MAX_CHANGES`] however many are asked for).
    pub fn changes(
        &mut self,
        kinds: &[DocKind],
        space: SpaceId,
        since: Timestamp,
        limit: usize,
    ) -> ApiResult<Vec<DocSummary>> {
        Ok(self
            .core
            .changed_since(kinds, space, since, limit.min(MAX_CHANGES))?)
    }

    /// The index row of one document.
    pub fn summary(&mut self, id: DocId) -> ApiResult<DocSummary> {
        Ok(self.core.summary(id)?)
    }

    /// The personal space.
    pub fn personal_space(&self) -> SpaceId {
        self.core.personal_space()
    }

    /// Spaces held here.
    pub fn spaces(&mut self) -> ApiResult<Vec<SpaceInfo>> {
        Ok(self.core.spaces()?)
    }

    /// Finds a space by id, prefix or name.
    pub fn resolve_space(&mut self, text: &str) -> ApiResult<SpaceId> {
        Ok(self.core.resolve_space(text)?)
    }

    /// Finds a document by id or unique prefix, optionally of one kind.
    pub fn resolve(&mut self, text: &str, kind: Option<DocKind>) -> ApiResult<DocId> {
        Ok(self.core.resolve(text, kind)?)
    }

    /// Full-text search.
    pub fn search(
        &mut self,
        query: &str,
        space: Option<SpaceId>,
        kinds: Option<&[DocKind]>,
        limit: usize,
    ) -> ApiResult<Vec<SearchResult>> {
        Ok(self.core.search(query, space, kinds, limit)?)
    }

    /// The bytes of an attachment.
    pub fn blob(&mut self, hash: &str) -> ApiResult<Vec<u8>> {
        Ok(self.core.blob(hash)?)
    }

    /// Storage statistics.
    pub fn stats(&mut self) -> ApiResult<Stats> {
        Ok(self.core.stats()?)
    }

    /// Checks database integrity and that every document loads and validates; returns the
    /// documents that do not.
    pub fn check(&mut self) -> ApiResult<Vec<(DocId, String)>> {
        self.core.check()?;
        Ok(self.core.verify_documents()?)
    }

    /// Creates an invite to a cohort (facilitators only): `role` defaults to learner, `uses`
    /// to 1 and `expires_days` to 7. The ticket holds this device's addresses (the running
    /// node's, or the last ones it listened on).
    pub fn invite_create(
        &mut self,
        space: SpaceId,
        role: Option<Role>,
        uses: Option<u32>,
        expires_days: Option<u32>,
    ) -> ApiResult<InviteView> {
        let addrs = self.core.ticket_addresses();
        Ok(self.core.create_invite(
            space,
            role.unwrap_or(Role::Learner),
            uses.unwrap_or(1),
            expires_days.unwrap_or(7),
            addrs,
        )?)
    }

    /// Creates a one-use ticket that links a new device to you, open for `expires_minutes`
    /// (default 10, at most a week). It holds this device's addresses; the new device runs
    /// `cohort device add <ticket>` (or [`Api::device_add`]).
    pub fn device_link(&mut self, expires_minutes: Option<u32>) -> ApiResult<DeviceLinkView> {
        let addrs = self.core.ticket_addresses();
        Ok(self
            .core
            .create_device_link(expires_minutes.unwrap_or(10), addrs)?)
    }

    /// On a new device (a data dir holding nothing of its own): redeems a device-link
    /// ticket; one of your devices links this one when they connect, and then it holds your
    /// personal space, profile and cohorts. `name` names this device (default: the
    /// machine's name).
    pub fn device_add(&mut self, ticket: &str, name: Option<&str>) -> ApiResult<DeviceAddView> {
        Ok(self.core.add_device(ticket, name)?)
    }

    /// Your devices, this one first, with names and when each was last seen.
    pub fn device_list(&mut self) -> ApiResult<Vec<DeviceView>> {
        Ok(self.core.devices()?)
    }

    /// Unlinks another of your devices (id, id prefix or name): it receives nothing new.
    pub fn device_remove(&mut self, device: &str) -> ApiResult<()> {
        Ok(self.core.remove_device(device)?)
    }

    /// Where a `device_add` stands while it waits (`None` once linked, or if none).
    pub fn device_linking(&mut self) -> ApiResult<Option<LinkingView>> {
        Ok(self.core.linking()?)
    }

    /// Creates the built-in sample: a "Getting started" cohort with a three-lesson course,
    /// a checklist, a self-check question and a question thread, so a new install is not
    /// empty. Returns the course.
    pub fn create_sample(&mut self) -> ApiResult<DocId> {
        let space = self.create_cohort(
            "Getting started",
            "Try Cohort: read a lesson, ask a question, keep a journal.",
        )?;
        self.add_norm(space, "Ask early; a question helps the next person too.")?;
        self.add_norm(space, "Say what you tried before you ask.")?;
        let course = self.create_course(
            space,
            "Learning together with Cohort",
            "A short tour: lessons, discussions and your private journal.",
        )?;
        let lessons = [
            ("Welcome", include_str!("../sample/01-welcome.md")),
            (
                "Learning together",
                include_str!("../sample/02-together.md"),
            ),
            (
                "Your private journal",
                include_str!("../sample/03-journal.md"),
            ),
        ];
        let mut ids = Vec::new();
        for (title, body) in lessons {
            ids.push(self.add_lesson(course, None, title, body)?);
        }
        if let Some(first) = ids.first().copied() {
            self.add_checklist_item(first, "Read this lesson to the end")?;
            self.add_checklist_item(first, "Open a question about a passage")?;
            self.add_question(
                first,
                "Where does Cohort keep your data?",
                "On your own machine, in the data dir.",
                &[],
            )?;
            let body = self.lesson(first)?.lesson.body;
            let quote = "every edit is on disk before Cohort\nsays it is done";
            let anchor = body.find(quote).map(|at| {
                let start = utf16_len(&body[..at]);
                (start, start + utf16_len(quote))
            });
            self.new_thread(
                space,
                ThreadKind::Question,
                "What does \"on disk\" mean if the power fails?",
                "If my laptop dies right after I post, is my post still there?",
                Some(first),
                anchor,
            )?;
        }
        Ok(course)
    }

    delegate! {
        /// Devices connected now or seen before.
        fn peers(&mut self) -> Vec<PeerView>;
        /// Per space: peers, documents in flight, last sync, joining state.
        fn sync_status(&mut self) -> Vec<SpaceSyncView>;
        /// Asks the running node to sync now.
        fn sync_now(&mut self) -> ();
        /// Loads, checks and indexes every document received from peers and not indexed
        /// yet (a running node does this in the background); how many were written.
        fn ingest_all_received(&mut self) -> usize;
        /// Redeems an invite ticket; a member admits this device when they next connect.
        fn join(&mut self, ticket: &str) -> JoinView;
        /// Removes a person from a cohort (facilitators only).
        fn remove_member(&mut self, space: SpaceId, person: PersonId) -> ();
        /// Who this device belongs to.
        fn me(&mut self) -> Me;
        /// Changes the display name.
        fn set_display_name(&mut self, name: &str) -> ();
        /// Creates a cohort space (charter + membership); you are its facilitator.
        fn create_cohort(&mut self, name: &str, purpose: &str) -> SpaceId;
        /// A cohort's charter.
        fn charter(&mut self, space: SpaceId) -> Charter;
        /// A cohort's members and roles, from its signed membership log.
        fn members(&mut self, space: SpaceId) -> Vec<MemberView>;
        /// Replaces a cohort's purpose.
        fn set_purpose(&mut self, space: SpaceId, purpose: &str) -> ();
        /// Adds a norm.
        fn add_norm(&mut self, space: SpaceId, norm: &str) -> ();
        /// Adds a milestone.
        fn add_milestone(&mut self, space: SpaceId, title: &str, due: Option<Timestamp>) -> ItemId;
        /// Creates a course.
        fn create_course(&mut self, space: SpaceId, title: &str, summary: &str) -> DocId;
        /// A course with outline and progress.
        fn course(&mut self, id: DocId) -> CourseView;
        /// Renames a course and/or replaces its summary.
        fn update_course(&mut self, id: DocId, title: Option<&str>, summary: Option<&str>) -> ();
        /// Adds a module.
        fn add_module(&mut self, course: DocId, title: &str) -> ItemId;
        /// Finds a module by prefix or position.
        fn resolve_module(&mut self, course: DocId, text: &str) -> ItemId;
        /// Creates a lesson in a course.
        fn add_lesson(&mut self, course: DocId, module: Option<ItemId>, title: &str, body: &str) -> DocId;
        /// A lesson with threads and progress.
        fn lesson(&mut self, id: DocId) -> LessonView;
        /// Applies editor splices to a lesson body.
        fn splice_lesson(&mut self, id: DocId, splices: &[Splice]) -> ();
        /// Replaces a lesson's title and/or body.
        fn update_lesson(&mut self, id: DocId, title: Option<&str>, body: Option<&str>) -> ();
        /// Adds a checklist item.
        fn add_checklist_item(&mut self, lesson: DocId, text: &str) -> ItemId;
        /// Finds a checklist item by prefix or position.
        fn resolve_checklist_item(&mut self, lesson: DocId, text: &str) -> ItemId;
        /// Adds a self-check question.
        fn add_question(&mut self, lesson: DocId, prompt: &str, answer: &str, choices: &[String]) -> ItemId;
        /// Attaches a file to a lesson; returns its content hash.
        fn attach(&mut self, lesson: DocId, name: &str, mime: &str, data: &[u8]) -> String;
        /// Opens a thread.
        fn new_thread(&mut self, space: SpaceId, kind: ThreadKind, title: &str, body: &str, lesson: Option<DocId>, anchor: Option<(usize, usize)>) -> DocId;
        /// A thread with its anchor resolved.
        fn thread(&mut self, id: DocId) -> ThreadView;
        /// Finds a post by prefix or position.
        fn resolve_post(&mut self, thread: DocId, text: &str) -> ItemId;
        /// Replies to a thread.
        fn reply(&mut self, thread: DocId, body: &str, reply_to: Option<ItemId>) -> ItemId;
        /// Edits your post.
        fn edit_post(&mut self, thread: DocId, post: ItemId, body: &str) -> ();
        /// Adds or removes a reaction.
        fn react(&mut self, thread: DocId, post: ItemId, reaction: &str, on: bool) -> ();
        /// Accepts (or clears) the answer of a question.
        fn accept(&mut self, thread: DocId, post: Option<ItemId>) -> ();
        /// Writes a note.
        fn new_note(&mut self, space: SpaceId, title: &str, body: &str, tags: &[String], source: Option<DocId>) -> DocId;
        /// A note.
        fn note(&mut self, id: DocId) -> Note;
        /// Applies editor splices to a note, journal entry or lesson body.
        fn splice_text_doc(&mut self, id: DocId, splices: &[Splice]) -> ();
        /// Writes a private journal entry.
        fn add_journal(&mut self, title: &str, body: &str, tags: &[String]) -> DocId;
        /// A journal entry.
        fn journal_entry(&mut self, id: DocId) -> JournalEntry;
        /// Shares a private journal entry into a cohort as a copy.
        fn share_journal(&mut self, entry: DocId, space: SpaceId) -> DocId;
        /// Your progress in a space.
        fn my_progress(&mut self, space: SpaceId) -> Option<Progress>;
        /// Marks a lesson complete or not.
        fn complete_lesson(&mut self, lesson: DocId, done: bool) -> ();
        /// Ticks a checklist item.
        fn tick(&mut self, lesson: DocId, item: ItemId, done: bool) -> ();
        /// Finds a self-check question by prefix or position.
        fn resolve_question(&mut self, lesson: DocId, text: &str) -> ItemId;
        /// Answers a self-check question.
        fn answer(&mut self, lesson: DocId, question: ItemId, answer: &str) -> ();
        /// A document's change history.
        fn history(&mut self, id: DocId) -> Vec<HistoryEntry>;
        /// A document as Automerge bytes.
        fn export_automerge(&mut self, id: DocId) -> Vec<u8>;
        /// A document as JSON.
        fn export_json(&mut self, id: DocId) -> serde_json::Value;
        /// Imports (merges) an Automerge file.
        fn import_automerge(&mut self, bytes: &[u8]) -> DocId;
        /// Marks a document deleted.
        fn delete(&mut self, id: DocId) -> ();
        /// Compacts storage.
        fn compact(&mut self) -> ();
    }
}

impl CoreHost for Api {
    fn core(&mut self) -> &mut Core {
        &mut self.core
    }
}
