//! The command bridge: [`Api::call`] runs any UI-facing command given its name and a JSON
//! object of arguments, and [`typescript_bindings`] generates the TypeScript types the UI
//! calls it with. Both come from ONE table (the `commands!` invocation below), so the
//! dispatch and the UI's `Commands` interface cannot drift apart.
//!
//! The contract every adapter (desktop shell, web server, tests) relies on:
//!
//! * `cmd` is the snake_case name of an [`Api`] method; [`COMMANDS`] lists them all.
//!   Commands that exist only for the command line (the `resolve_*` family, Automerge
//!   import/export, `blob`, `check`, `compact`) are not part of the bridge.
//! * `args` is a JSON object whose keys are exactly the method's parameter names. Unknown
//!   keys are refused; `Option` parameters may be omitted or `null`. A command without
//!   parameters takes `{}` (or `null`). Byte arguments (`attach`'s `data`) are base64 text.
//! * The result is the serde JSON of the method's return type: ids are 32 lowercase hex
//!   digits, a [`Timestamp`] is milliseconds since the Unix epoch, `()` is `null`.
//! * An unknown command or bad arguments fail with [`ErrorCode::InvalidInput`] and a message
//!   naming the command and the offending field; the method's own errors pass through.

use std::any::TypeId;
use std::collections::{BTreeMap, HashSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::{Config, TS, TypeVisitor};

use crate::{
    Api, ApiError, ApiResult, ChangeEvent, Charter, CourseView, DeviceAddView, DeviceLinkView,
    DeviceView, DocId, DocKind, DocSummary, ErrorCode, HistoryEntry, InviteView, ItemId, JoinView,
    JournalEntry, LessonView, LinkingView, Me, MemberView, Note, PeerView, PersonId, Progress,
    Role, SearchResult, SpaceId, SpaceInfo, SpaceSyncView, Splice, Stats, SyncNotice, ThreadKind,
    ThreadView, Timestamp,
};

/// One message on the change-event stream the web server pushes to the UI (WebSocket
/// `GET /api/events`): `{"event":"change","data":<ChangeEvent>}` or `{"event":"lagged"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum EventMessage {
    /// A document changed (the desktop shell sends the bare [`ChangeEvent`] instead, as the
    /// `cohort://change` event).
    Change(ChangeEvent),
    /// The receiver fell behind and missed events; it should reload what it shows.
    Lagged,
    /// Something happened in sync (a peer connected, a space is in sync, an admission).
    Sync(SyncNotice),
}

impl EventMessage {
    /// The message as JSON.
    pub fn to_json(&self) -> Value {
        // An enum of plain data with string keys always serializes.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The command table. Each row is
///
/// ```text
/// /// Doc comment (also the command's JSDoc in the TypeScript `Commands` interface).
/// name(ArgsStruct { param: Type, ... }) -> ResultType => |api, a| expression;
/// ```
///
/// where `ArgsStruct` is the private, deserialized form of the arguments (field names are
/// the method's parameter names; owned types stand in for borrowed ones) and `expression`
/// evaluates to `ApiResult<ResultType>`.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $cmd:ident ( $args:ident { $( $field:ident : $fty:ty ),* $(,)? } ) -> $ret:ty
            => |$api:ident, $a:ident| $body:expr;
    )*) => {
        $(
            #[derive(Deserialize, TS)]
            #[serde(deny_unknown_fields)]
            #[ts(optional_fields = nullable)]
            struct $args { $( $field: $fty ),* }
        )*

        /// Every command [`Api::call`] accepts, in table order.
        pub const COMMANDS: &[&str] = &[$( stringify!($cmd) ),*];

        impl Api {
            /// Runs the command `cmd` with `args` (a JSON object keyed by the method's
            /// parameter names) and returns its result as JSON. [`COMMANDS`] lists the
            /// names. An `Option` parameter may be omitted or `null`; unknown keys are
            /// refused; a command without parameters takes `{}` or `null`; `attach`'s
            /// `data` is base64. The result is the serde JSON of the method's return type
            /// (`()` is `null`). An unknown command or bad arguments fail with
            /// [`ErrorCode::InvalidInput`] and a message naming the command and the field.
            ///
            /// ```
            /// use cohort_api::{Api, ErrorCode, OpenOptions};
            /// use serde_json::json;
            ///
            /// let dir = tempfile::tempdir()?;
            /// let mut api = Api::open(dir.path(), OpenOptions::default())?;
            /// let space = api.call("create_cohort", json!({"name": "Readers", "purpose": ""}))?;
            /// let course = api.call("create_course", json!({"space": space, "title": "Poems", "summary": ""}))?;
            /// assert_eq!(api.call("course", json!({"id": course}))?["course"]["title"], "Poems");
            /// let err = api.call("course", json!({"id": 7})).unwrap_err();
            /// assert_eq!(err.code, ErrorCode::InvalidInput);
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pub fn call(&mut self, cmd: &str, args: Value) -> ApiResult<Value> {
                match cmd {
                    $(
                        stringify!($cmd) => {
                            let $a: $args = parse_args(cmd, args)?;
                            let $api = &mut *self;
                            let result: $ret = $body?;
                            to_json(cmd, &result)
                        }
                    )*
                    _ => Err(unknown_command(cmd)),
                }
            }
        }

        /// The table's rows as TypeScript: name, JSDoc text, inline args type, result type.
        fn command_rows(cfg: &Config) -> Vec<CommandRow> {
            vec![$(
                CommandRow {
                    name: stringify!($cmd),
                    docs: &[$( $doc ),*],
                    args: args_ts::<$args>(cfg, &[$( stringify!($field) ),*]),
                    result: <$ret as TS>::name(cfg),
                }
            ),*]
        }

        /// Visits every type the table's arguments and results mention.
        fn visit_command_types(v: &mut impl TypeVisitor) {
            $(
                <$args as TS>::visit_dependencies(v);
                v.visit::<$ret>();
                <$ret as TS>::visit_generics(v);
            )*
        }
    };
}

commands! {
    // --- you and your spaces ---
    /// Who this device belongs to.
    me(MeArgs {}) -> Me => |api, _a| api.me();
    /// Changes your display name.
    set_display_name(SetDisplayNameArgs { name: String }) -> () => |api, a| api.set_display_name(&a.name);
    /// Spaces held here (your personal space and your cohorts).
    spaces(SpacesArgs {}) -> Vec<SpaceInfo> => |api, _a| api.spaces();
    /// Your personal (private) space.
    personal_space(PersonalSpaceArgs {}) -> SpaceId => |api, _a| Ok::<_, ApiError>(api.personal_space());
    /// Storage statistics.
    stats(StatsArgs {}) -> Stats => |api, _a| api.stats();
    /// Creates the built-in "Getting started" sample cohort and course; returns the course.
    create_sample(CreateSampleArgs {}) -> DocId => |api, _a| api.create_sample();

    // --- cohorts ---
    /// Creates a cohort space (charter + membership); you are its facilitator.
    create_cohort(CreateCohortArgs { name: String, purpose: String }) -> SpaceId
        => |api, a| api.create_cohort(&a.name, &a.purpose);
    /// A cohort's charter.
    charter(CharterArgs { space: SpaceId }) -> Charter => |api, a| api.charter(a.space);
    /// A cohort's members and roles, from its signed membership log.
    members(MembersArgs { space: SpaceId }) -> Vec<MemberView> => |api, a| api.members(a.space);
    /// Replaces a cohort's purpose.
    set_purpose(SetPurposeArgs { space: SpaceId, purpose: String }) -> ()
        => |api, a| api.set_purpose(a.space, &a.purpose);
    /// Adds a norm to a cohort's charter.
    add_norm(AddNormArgs { space: SpaceId, norm: String }) -> () => |api, a| api.add_norm(a.space, &a.norm);
    /// Adds a milestone to a cohort's charter.
    add_milestone(AddMilestoneArgs { space: SpaceId, title: String, due: Option<Timestamp> }) -> ItemId
        => |api, a| api.add_milestone(a.space, &a.title, a.due);

    // --- lists, search, history ---
    /// Courses, optionally of one space.
    courses(CoursesArgs { space: Option<SpaceId> }) -> Vec<DocSummary> => |api, a| api.courses(a.space);
    /// Threads, optionally of one space and about one lesson.
    threads(ThreadsArgs { space: Option<SpaceId>, lesson: Option<DocId> }) -> Vec<DocSummary>
        => |api, a| api.threads(a.space, a.lesson);
    /// Notes, optionally of one space.
    notes(NotesArgs { space: Option<SpaceId> }) -> Vec<DocSummary> => |api, a| api.notes(a.space);
    /// Your private journal entries.
    journal(JournalArgs {}) -> Vec<DocSummary> => |api, _a| api.journal();
    /// Documents of any of `kinds`, optionally of one space and with one parent.
    list(ListArgs { kinds: Vec<DocKind>, space: Option<SpaceId>, parent: Option<DocId> }) -> Vec<DocSummary>
        => |api, a| api.list(&a.kinds, a.space, a.parent);
    /// Documents of any of `kinds` in a space changed after `since`, newest first, at most
    /// `limit` (what changed since you last looked, without listing everything).
    changes(ChangesArgs { space: SpaceId, kinds: Vec<DocKind>, since: Timestamp, limit: usize }) -> Vec<DocSummary>
        => |api, a| api.changes(&a.kinds, a.space, a.since, a.limit);
    /// The index row of one document.
    summary(SummaryArgs { id: DocId }) -> DocSummary => |api, a| api.summary(a.id);
    /// Full-text search, optionally in one space and of some kinds, at most `limit` results.
    search(SearchArgs { query: String, space: Option<SpaceId>, kinds: Option<Vec<DocKind>>, limit: usize }) -> Vec<SearchResult>
        => |api, a| api.search(&a.query, a.space, a.kinds.as_deref(), a.limit);
    /// A document's change history.
    history(HistoryArgs { id: DocId }) -> Vec<HistoryEntry> => |api, a| api.history(a.id);
    /// A document as JSON.
    export_json(ExportJsonArgs { id: DocId }) -> Value => |api, a| api.export_json(a.id);
    /// Marks a document deleted.
    delete(DeleteArgs { id: DocId }) -> () => |api, a| api.delete(a.id);

    // --- courses and lessons ---
    /// Creates a course.
    create_course(CreateCourseArgs { space: SpaceId, title: String, summary: String }) -> DocId
        => |api, a| api.create_course(a.space, &a.title, &a.summary);
    /// A course with its outline and your progress.
    course(CourseArgs { id: DocId }) -> CourseView => |api, a| api.course(a.id);
    /// Renames a course and/or replaces its summary.
    update_course(UpdateCourseArgs { id: DocId, title: Option<String>, summary: Option<String> }) -> ()
        => |api, a| api.update_course(a.id, a.title.as_deref(), a.summary.as_deref());
    /// Adds a module to a course.
    add_module(AddModuleArgs { course: DocId, title: String }) -> ItemId
        => |api, a| api.add_module(a.course, &a.title);
    /// Creates a lesson in a course (in `module`, or the last module).
    add_lesson(AddLessonArgs { course: DocId, module: Option<ItemId>, title: String, body: String }) -> DocId
        => |api, a| api.add_lesson(a.course, a.module, &a.title, &a.body);
    /// A lesson with its threads and your progress.
    lesson(LessonArgs { id: DocId }) -> LessonView => |api, a| api.lesson(a.id);
    /// Applies editor splices (UTF-16 positions) to a lesson body.
    splice_lesson(SpliceLessonArgs { id: DocId, splices: Vec<Splice> }) -> ()
        => |api, a| api.splice_lesson(a.id, &a.splices);
    /// Replaces a lesson's title and/or body.
    update_lesson(UpdateLessonArgs { id: DocId, title: Option<String>, body: Option<String> }) -> ()
        => |api, a| api.update_lesson(a.id, a.title.as_deref(), a.body.as_deref());
    /// Adds a checklist item to a lesson.
    add_checklist_item(AddChecklistItemArgs { lesson: DocId, text: String }) -> ItemId
        => |api, a| api.add_checklist_item(a.lesson, &a.text);
    /// Adds a self-check question to a lesson (`choices` empty for a free-text answer).
    add_question(AddQuestionArgs { lesson: DocId, prompt: String, answer: String, choices: Vec<String> }) -> ItemId
        => |api, a| api.add_question(a.lesson, &a.prompt, &a.answer, &a.choices);
    /// Attaches a file (`data`: its bytes as base64) to a lesson; returns its content hash.
    attach(AttachArgs { lesson: DocId, name: String, mime: String, data: String }) -> String
        => |api, a| api.attach(a.lesson, &a.name, &a.mime, &decode_base64("attach", "data", &a.data)?);

    // --- discussion ---
    /// Opens a thread, optionally about a lesson and anchored to `[start, end)` of its body
    /// (UTF-16 code units).
    new_thread(NewThreadArgs { space: SpaceId, kind: ThreadKind, title: String, body: String, lesson: Option<DocId>, anchor: Option<(usize, usize)> }) -> DocId
        => |api, a| api.new_thread(a.space, a.kind, &a.title, &a.body, a.lesson, a.anchor);
    /// A thread with its anchor resolved and authors named.
    thread(ThreadArgs { id: DocId }) -> ThreadView => |api, a| api.thread(a.id);
    /// Replies to a thread, optionally to one post of it.
    reply(ReplyArgs { thread: DocId, body: String, reply_to: Option<ItemId> }) -> ItemId
        => |api, a| api.reply(a.thread, &a.body, a.reply_to);
    /// Edits your post.
    edit_post(EditPostArgs { thread: DocId, post: ItemId, body: String }) -> ()
        => |api, a| api.edit_post(a.thread, a.post, &a.body);
    /// Adds (`on: true`) or removes a reaction.
    react(ReactArgs { thread: DocId, post: ItemId, reaction: String, on: bool }) -> ()
        => |api, a| api.react(a.thread, a.post, &a.reaction, a.on);
    /// Accepts a post as the answer of a question (`post: null` clears it).
    accept(AcceptArgs { thread: DocId, post: Option<ItemId> }) -> () => |api, a| api.accept(a.thread, a.post);

    // --- notes and journal ---
    /// Writes a note, optionally forked from a lesson (`source`).
    new_note(NewNoteArgs { space: SpaceId, title: String, body: String, tags: Vec<String>, source: Option<DocId> }) -> DocId
        => |api, a| api.new_note(a.space, &a.title, &a.body, &a.tags, a.source);
    /// A note.
    note(NoteArgs { id: DocId }) -> Note => |api, a| api.note(a.id);
    /// Applies editor splices to a note, journal entry or lesson body.
    splice_text_doc(SpliceTextDocArgs { id: DocId, splices: Vec<Splice> }) -> ()
        => |api, a| api.splice_text_doc(a.id, &a.splices);
    /// Writes a private journal entry.
    add_journal(AddJournalArgs { title: String, body: String, tags: Vec<String> }) -> DocId
        => |api, a| api.add_journal(&a.title, &a.body, &a.tags);
    /// A journal entry.
    journal_entry(JournalEntryArgs { id: DocId }) -> JournalEntry => |api, a| api.journal_entry(a.id);
    /// Shares a private journal entry into a cohort as a copy; returns the copy.
    share_journal(ShareJournalArgs { entry: DocId, space: SpaceId }) -> DocId
        => |api, a| api.share_journal(a.entry, a.space);

    // --- progress ---
    /// Your progress in a space (`null` before you made any).
    my_progress(MyProgressArgs { space: SpaceId }) -> Option<Progress> => |api, a| api.my_progress(a.space);
    /// Marks a lesson complete or not.
    complete_lesson(CompleteLessonArgs { lesson: DocId, done: bool }) -> ()
        => |api, a| api.complete_lesson(a.lesson, a.done);
    /// Ticks (or unticks) a checklist item.
    tick(TickArgs { lesson: DocId, item: ItemId, done: bool }) -> () => |api, a| api.tick(a.lesson, a.item, a.done);
    /// Answers a self-check question.
    answer(AnswerArgs { lesson: DocId, question: ItemId, answer: String }) -> ()
        => |api, a| api.answer(a.lesson, a.question, &a.answer);

    // --- sync ---
    /// Devices connected now or seen before, with names where known; connected first.
    peers(PeersArgs {}) -> Vec<PeerView> => |api, _a| api.peers();
    /// Per space: peers syncing it, documents in flight, last sync, and joining state.
    sync_status(SyncStatusArgs {}) -> Vec<SpaceSyncView> => |api, _a| api.sync_status();
    /// Asks the running node to dial known peers and sync now.
    sync_now(SyncNowArgs {}) -> () => |api, _a| api.sync_now();
    /// Creates an invite ticket (facilitators): role defaults to learner, uses to 1, expiry to 7 days.
    invite_create(InviteCreateArgs { space: SpaceId, role: Option<Role>, uses: Option<u32>, expires_days: Option<u32> }) -> InviteView
        => |api, a| api.invite_create(a.space, a.role, a.uses, a.expires_days);
    /// Redeems an invite ticket; a member admits this device when they next connect.
    join(JoinArgs { ticket: String }) -> JoinView => |api, a| api.join(&a.ticket);
    /// Removes a person from a cohort (facilitators only); they receive nothing new.
    remove_member(RemoveMemberArgs { space: SpaceId, person: PersonId }) -> () => |api, a| api.remove_member(a.space, a.person);

    // --- your devices ---
    /// Creates a one-use ticket linking a new device to you, open `expires_minutes` (default 10).
    device_link(DeviceLinkArgs { expires_minutes: Option<u32> }) -> DeviceLinkView
        => |api, a| api.device_link(a.expires_minutes);
    /// On a new device: redeems a device-link ticket; one of your devices links this one when they connect.
    device_add(DeviceAddArgs { ticket: String, name: Option<String> }) -> DeviceAddView
        => |api, a| api.device_add(&a.ticket, a.name.as_deref());
    /// Where a `device_add` stands while it waits (`null` once linked, or if none).
    device_linking(DeviceLinkingArgs {}) -> Option<LinkingView> => |api, _a| api.device_linking();
    /// Your devices, this one first, with names and when each was last seen.
    device_list(DeviceListArgs {}) -> Vec<DeviceView> => |api, _a| api.device_list();
    /// Unlinks another of your devices (id, id prefix or name); it receives nothing new.
    device_remove(DeviceRemoveArgs { device: String }) -> () => |api, a| api.device_remove(&a.device);
}

/// Visits the types the UI needs besides those the commands mention: the error shape and
/// the pushed events (sync notices join through [`EventMessage`]).
fn visit_extra_types(v: &mut impl TypeVisitor) {
    v.visit::<ApiError>();
    v.visit::<ErrorCode>();
    v.visit::<EventMessage>();
    v.visit::<ChangeEvent>();
}

fn parse_args<T: DeserializeOwned>(cmd: &str, args: Value) -> ApiResult<T> {
    let args = match args {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => args,
        other => {
            return Err(ApiError::invalid(format!(
                "the arguments of `{cmd}` must be a JSON object keyed by parameter name, not {}",
                json_kind(&other)
            )));
        }
    };
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::invalid(format!("bad arguments for `{cmd}`: {inner}"))
        } else {
            ApiError::invalid(format!("bad argument `{path}` for `{cmd}`: {inner}"))
        }
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn to_json<T: Serialize>(cmd: &str, result: &T) -> ApiResult<Value> {
    serde_json::to_value(result).map_err(|e| ApiError {
        code: ErrorCode::Internal,
        message: format!("the result of `{cmd}` could not be serialized: {e}"),
    })
}

fn decode_base64(cmd: &str, field: &str, text: &str) -> ApiResult<Vec<u8>> {
    data_encoding::BASE64.decode(text.as_bytes()).map_err(|e| {
        ApiError::invalid(format!(
            "bad argument `{field}` for `{cmd}`: expected base64 (standard alphabet, padded): {e}"
        ))
    })
}

fn unknown_command(cmd: &str) -> ApiError {
    let shown: String = cmd.chars().take(64).collect();
    let nearest = COMMANDS
        .iter()
        .map(|known| (edit_distance(cmd, known), *known))
        .filter(|(distance, known)| *distance <= (known.len() / 3).max(2))
        .min();
    match nearest {
        Some((_, known)) => ApiError::invalid(format!(
            "unknown command `{shown}`; did you mean `{known}`?"
        )),
        None => ApiError::invalid(format!(
            "unknown command `{shown}`; the commands are: {}",
            COMMANDS.join(", ")
        )),
    }
}

/// Levenshtein distance over chars (both inputs are short command names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            row.push(substitute.min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------
// TypeScript bindings
// ---------------------------------------------------------------------------------------

const COMMANDS_NOTE: &str = "// This file was generated from the command table in crates/api/src/call.rs. Do not edit this file manually.\n";

struct CommandRow {
    name: &'static str,
    docs: &'static [&'static str],
    args: String,
    result: String,
}

/// An args struct as an inline TypeScript object type (`{}` when it has no fields).
fn args_ts<T: TS>(cfg: &Config, fields: &[&str]) -> String {
    if fields.is_empty() {
        "{}".to_owned()
    } else {
        T::inline(cfg)
    }
}

/// The configuration bindings are generated with: 64-bit integers are plain `number`s,
/// as the JSON carries them (timestamps and counts stay far below 2^53).
fn ts_config() -> Config {
    Config::new().with_large_int("number")
}

/// Collects the declaration file of every exportable type it visits, recursively.
struct Collect<'a> {
    cfg: &'a Config,
    seen: HashSet<TypeId>,
    files: BTreeMap<String, (String, String)>,
    error: Option<String>,
}

impl TypeVisitor for Collect<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        let Some(path) = T::output_path() else {
            return;
        };
        if self.error.is_some() || !self.seen.insert(TypeId::of::<T>()) {
            return;
        }
        let path = path.to_string_lossy().replace('\\', "/");
        let ident = T::ident(self.cfg);
        match T::export_to_string(self.cfg) {
            Ok(text) => {
                // Distinct Rust types may share one binding (serde_json::Value is JsonValue).
                match self.files.get(&path) {
                    Some(existing) if *existing != (ident.clone(), text.clone()) => {
                        let other = &existing.0;
                        self.error = Some(format!(
                            "{other} and {ident} would both be written to {path}"
                        ));
                    }
                    _ => {
                        self.files.insert(path, (ident, text));
                    }
                }
            }
            Err(e) => self.error = Some(format!("{ident}: {e}")),
        }
        T::visit_dependencies(self);
    }
}

/// Names the exportable types a visited type refers to directly (for `commands.ts` imports).
struct DirectRefs<'a> {
    cfg: &'a Config,
    refs: BTreeMap<String, String>,
}

impl TypeVisitor for DirectRefs<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        if let Some(path) = T::output_path() {
            let path = path.to_string_lossy().replace('\\', "/");
            self.refs.insert(T::ident(self.cfg), path);
        }
    }
}

fn import_path(file: &str) -> String {
    format!("./{}", file.trim_end_matches(".ts"))
}

/// The TypeScript bindings of everything the UI exchanges with the core, as file path
/// (relative to the bindings folder, `/`-separated) -> file content: one file per type
/// (ts-rs style, honouring the serde attributes), `commands.ts` with the `Commands`
/// interface (every command's args and result type), and `index.ts` re-exporting all.
///
/// The committed copy lives in `ui/src/lib/bindings/`; the `bindings` test of this crate
/// fails when it is stale and rewrites it with `UPDATE_BINDINGS=1`.
pub fn typescript_bindings() -> ApiResult<BTreeMap<String, String>> {
    let cfg = ts_config();
    let mut collect = Collect {
        cfg: &cfg,
        seen: HashSet::new(),
        files: BTreeMap::new(),
        error: None,
    };
    visit_command_types(&mut collect);
    visit_extra_types(&mut collect);
    if let Some(e) = collect.error {
        return Err(ApiError {
            code: ErrorCode::Internal,
            message: format!("TypeScript bindings cannot be generated: {e}"),
        });
    }
    let types = collect.files;

    let mut refs = DirectRefs {
        cfg: &cfg,
        refs: BTreeMap::new(),
    };
    visit_command_types(&mut refs);
    let mut commands = String::from(COMMANDS_NOTE);
    for (ident, file) in &refs.refs {
        commands.push_str(&format!(
            "import type {{ {ident} }} from \"{}\";\n",
            import_path(file)
        ));
    }
    commands.push_str(
        "\n/**\n * Every command of the one generic `call(cmd, args)`: its arguments (keyed by the Rust\n * method's parameter names) and its result.\n */\nexport interface Commands {\n",
    );
    for row in command_rows(&cfg) {
        push_jsdoc(&mut commands, "  ", row.docs);
        commands.push_str(&format!(
            "  {}: {{ args: {}; result: {} }};\n",
            row.name, row.args, row.result
        ));
    }
    commands.push_str("}\n");

    let mut index = String::from(
        COMMANDS_NOTE
            .replace(
                "the command table in",
                "the Rust types and the command table in",
            )
            .as_str(),
    );
    index.push('\n');
    for (file, (ident, _)) in &types {
        index.push_str(&format!(
            "export type {{ {ident} }} from \"{}\";\n",
            import_path(file)
        ));
    }
    index.push_str("export type { Commands } from \"./commands\";\n");

    let mut files: BTreeMap<String, String> = types
        .into_iter()
        .map(|(file, (_, text))| (file, text))
        .collect();
    files.insert("commands.ts".to_owned(), commands);
    files.insert("index.ts".to_owned(), index);
    Ok(files)
}

fn push_jsdoc(out: &mut String, indent: &str, lines: &[&str]) {
    let lines: Vec<&str> = lines.iter().map(|l| l.trim()).collect();
    match lines.as_slice() {
        [] => {}
        [one] => out.push_str(&format!("{indent}/** {one} */\n")),
        many => {
            out.push_str(&format!("{indent}/**\n"));
            for line in many {
                out.push_str(&format!("{indent} * {line}\n").replace(" * \n", " *\n"));
            }
            out.push_str(&format!("{indent} */\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OpenOptions, PersonId};
    use serde_json::json;
    use std::sync::Arc;

    fn open(dir: &std::path::Path) -> Api {
        let options = OpenOptions {
            clock: Arc::new(crate::ManualClock::new(cohort_testkit::EPOCH)),
            ids: Box::new(crate::SequentialIds::new(1)),
            display_name: Some("Test Learner".into()),
            cache_docs: 64,
        };
        match Api::open(dir, options) {
            Ok(api) => api,
            Err(e) => panic!("open: {e}"),
        }
    }

    fn call(api: &mut Api, cmd: &str, args: Value) -> Value {
        match api.call(cmd, args.clone()) {
            Ok(v) => v,
            Err(e) => panic!("{cmd}({args}) failed: {e:?}"),
        }
    }

    fn call_err(api: &mut Api, cmd: &str, args: Value) -> ApiError {
        match api.call(cmd, args.clone()) {
            Ok(v) => panic!("{cmd}({args}) should fail but returned {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn changes_lists_what_changed_after_a_time_newest_first() {
        let dir = cohort_testkit::temp_dir().expect("temp dir");
        let clock = Arc::new(crate::ManualClock::new(cohort_testkit::EPOCH));
        let options = OpenOptions {
            clock: clock.clone(),
            ids: Box::new(crate::SequentialIds::new(1)),
            display_name: Some("Test Learner".into()),
            cache_docs: 64,
        };
        let mut api = Api::open(dir.path(), options).expect("open");
        let space = call(
            &mut api,
            "create_cohort",
            json!({"name": "Readers", "purpose": "Read"}),
        );
        let thread = |api: &mut Api, title: &str| {
            call(
                api,
                "new_thread",
                json!({"space": space, "kind": "question", "title": title, "body": "?"}),
            )
        };
        let old = thread(&mut api, "Old");
        clock.advance(1_000);
        let seen = cohort_testkit::EPOCH.0 + 500;
        let newer = thread(&mut api, "Newer");
        clock.advance(1_000);
        let newest = thread(&mut api, "Newest");
        let ids = |v: Value| -> Vec<Value> {
            v.as_array()
                .map(|a| a.iter().map(|d| d["id"].clone()).collect())
                .unwrap_or_default()
        };
        let changed = call(
            &mut api,
            "changes",
            json!({"space": space, "kinds": ["thread"], "since": seen, "limit": 10}),
        );
        assert_eq!(ids(changed), vec![newest.clone(), newer.clone()]);
        // A reply makes the old thread changed too, and newest.
        clock.advance(1_000);
        call(
            &mut api,
            "reply",
            json!({"thread": old, "body": "!", "reply_to": null}),
        );
        let changed = call(
            &mut api,
            "changes",
            json!({"space": space, "kinds": ["thread", "lesson"], "since": seen, "limit": 2}),
        );
        assert_eq!(ids(changed), vec![old, newest]);
        let none = call(
            &mut api,
            "changes",
            json!({"space": space, "kinds": ["note"], "since": seen, "limit": 10}),
        );
        assert_eq!(none, json!([]));
    }

    #[test]
    fn a_whole_session_runs_through_call() {
        let dir = cohort_testkit::temp_dir().expect("temp dir");
        let mut api = open(dir.path());

        let me = call(&mut api, "me", json!({}));
        assert_eq!(me["display_name"], "Test Learner");
        call(&mut api, "set_display_name", json!({"name": "Ada"}));
        assert_eq!(call(&mut api, "me", Value::Null)["display_name"], "Ada");

        let space = call(
            &mut api,
            "create_cohort",
            json!({"name": "Readers", "purpose": "Read"}),
        );
        assert!(space.as_str().is_some_and(|s| s.len() == 32), "{space}");
        assert_eq!(
            call(&mut api, "charter", json!({"space": space}))["name"],
            "Readers"
        );
        assert_eq!(
            call(&mut api, "members", json!({"space": space}))[0]["role"],
            "facilitator"
        );
        call(
            &mut api,
            "add_norm",
            json!({"space": space, "norm": "Be kind"}),
        );
        call(
            &mut api,
            "set_purpose",
            json!({"space": space, "purpose": "Read more"}),
        );
        let milestone = call(
            &mut api,
            "add_milestone",
            json!({"space": space, "title": "Chapter 1", "due": 1_704_067_200_000_i64}),
        );
        let charter = call(&mut api, "charter", json!({"space": space}));
        assert_eq!(charter["purpose"], "Read more");
        assert_eq!(charter["norms"], json!(["Be kind"]));
        assert_eq!(charter["milestones"][0]["id"], milestone);
        assert_eq!(charter["milestones"][0]["due"], 1_704_067_200_000_i64);
        let spaces = call(&mut api, "spaces", json!({}));
        assert_eq!(spaces.as_array().map(Vec::len), Some(2));

        let course = call(
            &mut api,
            "create_course",
            json!({"space": space, "title": "Poems", "summary": ""}),
        );
        let module = call(
            &mut api,
            "add_module",
            json!({"course": course, "title": "Part 1"}),
        );
        let lesson = call(
            &mut api,
            "add_lesson",
            json!({"course": course, "module": module, "title": "Odes", "body": "Hello world"}),
        );
        // Option parameters may be omitted.
        let lesson2 = call(
            &mut api,
            "add_lesson",
            json!({"course": course, "title": "Sonnets", "body": ""}),
        );
        let view = call(&mut api, "course", json!({"id": course}));
        assert_eq!(view["outline"][0]["id"], module);
        assert_eq!(view["outline"][0]["lessons"][0]["id"], lesson);
        assert_eq!(view["outline"][0]["lessons"][1]["id"], lesson2);
        call(
            &mut api,
            "update_course",
            json!({"id": course, "title": "Poetry", "summary": null}),
        );
        assert_eq!(
            call(&mut api, "summary", json!({"id": course}))["title"],
            "Poetry"
        );
        let courses = call(&mut api, "courses", json!({"space": space}));
        assert_eq!(courses[0]["id"], course);

        call(
            &mut api,
            "splice_lesson",
            json!({"id": lesson, "splices": [{"pos": 5, "delete": 6, "insert": ", poets"}]}),
        );
        call(
            &mut api,
            "update_lesson",
            json!({"id": lesson2, "body": "Fourteen lines"}),
        );
        let item = call(
            &mut api,
            "add_checklist_item",
            json!({"lesson": lesson, "text": "Read"}),
        );
        let question = call(
            &mut api,
            "add_question",
            json!({"lesson": lesson, "prompt": "Who?", "answer": "Keats", "choices": []}),
        );
        let hash = call(
            &mut api,
            "attach",
            json!({"lesson": lesson, "name": "a.txt", "mime": "text/plain", "data": "aGk="}),
        );
        assert_eq!(hash.as_str().map(str::len), Some(64));

        let thread = call(
            &mut api,
            "new_thread",
            json!({"space": space, "kind": "question", "title": "Why?", "body": "Why odes?",
                   "lesson": lesson, "anchor": [0, 5]}),
        );
        let post = call(
            &mut api,
            "reply",
            json!({"thread": thread, "body": "Because"}),
        );
        let reply2 = call(
            &mut api,
            "reply",
            json!({"thread": thread, "body": "Agreed", "reply_to": post}),
        );
        call(
            &mut api,
            "edit_post",
            json!({"thread": thread, "post": post, "body": "Because!"}),
        );
        call(
            &mut api,
            "react",
            json!({"thread": thread, "post": post, "reaction": "👍", "on": true}),
        );
        call(&mut api, "accept", json!({"thread": thread, "post": post}));
        let tv = call(&mut api, "thread", json!({"id": thread}));
        assert_eq!(tv["thread"]["posts"].as_array().map(Vec::len), Some(3));
        assert_eq!(tv["thread"]["posts"][1]["body"], "Because!");
        assert_eq!(tv["thread"]["posts"][2]["reply_to"], post);
        assert_eq!(tv["thread"]["posts"][2]["id"], reply2);
        assert_eq!(tv["thread"]["accepted"], post);
        assert_eq!(
            tv["anchor"],
            json!({"state": "attached", "start": 0, "end": 5, "text": "Hello"})
        );
        assert_eq!(
            call(&mut api, "threads", json!({"lesson": lesson}))[0]["id"],
            thread
        );

        call(
            &mut api,
            "complete_lesson",
            json!({"lesson": lesson, "done": true}),
        );
        call(
            &mut api,
            "tick",
            json!({"lesson": lesson, "item": item, "done": true}),
        );
        call(
            &mut api,
            "answer",
            json!({"lesson": lesson, "question": question, "answer": "Keats"}),
        );
        let lv = call(&mut api, "lesson", json!({"id": lesson}));
        assert_eq!(lv["lesson"]["body"], "Hello, poets");
        assert_eq!(lv["lesson"]["attachments"][0]["hash"], hash);
        assert_eq!(lv["threads"][0]["id"], thread);
        assert_eq!(
            lv["progress"]["checklist"][item.as_str().unwrap_or_default()],
            true
        );
        assert_eq!(
            lv["progress"]["answers"][question.as_str().unwrap_or_default()],
            "Keats"
        );
        assert!(lv["progress"]["completed_at"].is_i64());
        let progress = call(&mut api, "my_progress", json!({"space": space}));
        assert!(progress["lessons"][lesson.as_str().unwrap_or_default()].is_object());

        let note = call(
            &mut api,
            "new_note",
            json!({"space": space, "title": "N", "body": "note body", "tags": ["a"], "source": lesson}),
        );
        call(
            &mut api,
            "splice_text_doc",
            json!({"id": note, "splices": [{"pos": 0, "delete": 4, "insert": "Note"}]}),
        );
        let nv = call(&mut api, "note", json!({"id": note}));
        assert_eq!(nv["body"], "Note body");
        assert_eq!(nv["source"], lesson);
        assert_eq!(call(&mut api, "notes", json!({}))[0]["id"], note);

        let entry = call(
            &mut api,
            "add_journal",
            json!({"title": "Day 1", "body": "Quiet", "tags": []}),
        );
        assert_eq!(call(&mut api, "journal", json!({}))[0]["id"], entry);
        let shared = call(
            &mut api,
            "share_journal",
            json!({"entry": entry, "space": space}),
        );
        assert_eq!(
            call(&mut api, "journal_entry", json!({"id": entry}))["shared_as"],
            shared
        );

        let hits = call(&mut api, "search", json!({"query": "poets", "limit": 10}));
        assert_eq!(hits[0]["doc"], lesson);
        let kinds = call(
            &mut api,
            "list",
            json!({"kinds": ["note", "thread"], "space": space}),
        );
        assert_eq!(kinds.as_array().map(Vec::len), Some(2));
        assert!(
            !call(&mut api, "history", json!({"id": lesson}))
                .as_array()
                .is_none_or(Vec::is_empty)
        );
        assert_eq!(
            call(&mut api, "export_json", json!({"id": note}))["title"],
            "N"
        );
        assert!(
            call(&mut api, "stats", json!({}))["docs"]
                .as_u64()
                .is_some_and(|n| n > 5)
        );
        call(&mut api, "delete", json!({"id": note}));
        assert_eq!(
            call(&mut api, "note", json!({"id": note}))["header"]["deleted"],
            true
        );

        let personal = call(&mut api, "personal_space", json!({}));
        assert_eq!(personal, me["personal_space"]);
        let sample = call(&mut api, "create_sample", json!({}));
        assert_eq!(
            call(&mut api, "course", json!({"id": sample}))["course"]["header"]["id"],
            sample
        );
    }

    #[test]
    fn unknown_commands_are_invalid_input_and_suggest_the_nearest() {
        let dir = cohort_testkit::temp_dir().expect("temp dir");
        let mut api = open(dir.path());
        let err = call_err(&mut api, "repyl", json!({}));
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(
            err.message,
            "unknown command `repyl`; did you mean `reply`?"
        );
        let err = call_err(&mut api, "frobnicate", json!({}));
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(
            err.message
                .starts_with("unknown command `frobnicate`; the commands are: me, ")
        );
        // CLI-only commands are not part of the bridge.
        for cli_only in ["resolve", "blob", "compact", "export_automerge", "check"] {
            assert!(!COMMANDS.contains(&cli_only), "{cli_only}");
            assert_eq!(
                call_err(&mut api, cli_only, json!({})).code,
                ErrorCode::InvalidInput
            );
        }
    }

    #[test]
    fn bad_arguments_name_the_command_and_the_field() {
        let dir = cohort_testkit::temp_dir().expect("temp dir");
        let mut api = open(dir.path());
        let thread = "0".repeat(32);
        let cases = [
            (
                "reply",
                json!({"thread": thread}),
                "bad arguments for `reply`: missing field `body`",
            ),
            (
                "reply",
                json!({"thread": thread, "body": "x", "replyTo": null}),
                "bad argument `replyTo` for `reply`: unknown field `replyTo`, expected one of `thread`, `body`, `reply_to`",
            ),
            (
                "reply",
                json!({"thread": thread, "body": 5}),
                "bad argument `body` for `reply`: invalid type: integer `5`, expected a string",
            ),
            (
                "lesson",
                json!({"id": "zz"}),
                "bad argument `id` for `lesson`: invalid document id \"zz\": expected 32 hex digits",
            ),
            (
                "splice_lesson",
                json!({"id": thread, "splices": [{"pos": 0, "delete": 0}]}),
                "bad argument `splices[0]` for `splice_lesson`: missing field `insert`",
            ),
            (
                "new_thread",
                json!({"space": thread, "kind": "rant", "title": "t", "body": "b"}),
                "bad argument `kind` for `new_thread`: unknown variant `rant`, expected one of `question`, `idea`, `how_to`",
            ),
            (
                "me",
                json!({"x": 1}),
                "bad argument `x` for `me`: unknown field `x`, there are no fields",
            ),
            (
                "me",
                json!([1]),
                "the arguments of `me` must be a JSON object keyed by parameter name, not an array",
            ),
            (
                "attach",
                json!({"lesson": thread, "name": "n", "mime": "m", "data": "%%%%"}),
                "bad argument `data` for `attach`: expected base64 (standard alphabet, padded): invalid symbol at 0",
            ),
        ];
        for (cmd, args, message) in cases {
            let err = call_err(&mut api, cmd, args);
            assert_eq!(err.code, ErrorCode::InvalidInput, "{cmd}: {}", err.message);
            assert_eq!(err.message, message);
        }
        // Errors of the method itself pass through with their own code.
        let err = call_err(&mut api, "lesson", json!({"id": thread}));
        assert_eq!(err.code, ErrorCode::NotFound, "{}", err.message);
    }

    #[test]
    fn what_serialize_produces_deserialize_accepts() {
        fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) {
            let json = serde_json::to_value(&value).expect("serialize");
            let back: T = serde_json::from_value(json.clone()).expect("deserialize");
            assert_eq!(back, value, "{json}");
        }
        round_trip(DocId::from_bytes([0xab; 16]));
        round_trip(SpaceId::from_bytes([1; 16]));
        round_trip(PersonId::from_bytes([0; 16]));
        round_trip(ItemId::from_bytes([0xff; 16]));
        round_trip(Timestamp(1_704_067_200_123));
        round_trip(Timestamp(-1));
        round_trip(ThreadKind::HowTo);
        round_trip(DocKind::JournalEntry);
        round_trip(Splice {
            pos: 1,
            delete: 2,
            insert: "x".into(),
        });
        round_trip(ApiError::invalid("no"));
        assert_eq!(
            serde_json::to_value(Timestamp(5)).expect("serialize"),
            json!(5),
            "a timestamp is a plain number"
        );
    }

    #[test]
    fn event_messages_have_the_documented_shape() {
        let event = ChangeEvent {
            doc: DocId::from_bytes([1; 16]),
            space: SpaceId::from_bytes([2; 16]),
            kind: DocKind::Thread,
            change: crate::ChangeKind::Updated,
        };
        assert_eq!(
            EventMessage::Change(event.clone()).to_json(),
            json!({"event": "change", "data": {
                "doc": "01".repeat(16), "space": "02".repeat(16), "kind": "thread", "change": "updated"
            }})
        );
        assert_eq!(EventMessage::Lagged.to_json(), json!({"event": "lagged"}));
    }

    #[test]
    fn device_commands_run_through_call() {
        let dir = cohort_testkit::temp_dir().expect("temp dir");
        let mut api = open(dir.path());
        let me = call(&mut api, "me", json!({}));
        let devices = call(&mut api, "device_list", json!({}));
        assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
        assert_eq!(devices[0]["device"], me["device"]);
        assert_eq!(devices[0]["this_device"], true);
        let link = call(&mut api, "device_link", json!({"expires_minutes": 30}));
        assert!(
            link["ticket"]
                .as_str()
                .is_some_and(|t| t.starts_with("cohort1")),
            "{link}"
        );
        assert_eq!(link["person"], me["person"]);
        assert_eq!(
            link["expires_at"],
            cohort_testkit::EPOCH.millis() + 30 * 60_000
        );
        assert_eq!(
            call_err(&mut api, "device_link", json!({"expires_minutes": 0})).code,
            ErrorCode::InvalidInput
        );
        let own = call_err(&mut api, "device_add", json!({"ticket": link["ticket"]}));
        assert_eq!(own.code, ErrorCode::InvalidInput, "{own:?}");
        assert_eq!(call(&mut api, "device_linking", json!({})), Value::Null);
        let this = me["device"].as_str().unwrap_or_default().to_owned();
        let err = call_err(&mut api, "device_remove", json!({"device": &this[..8]}));
        assert_eq!(
            err.code,
            ErrorCode::InvalidInput,
            "this device cannot remove itself"
        );
        let err = call_err(&mut api, "device_remove", json!({"device": "ffffffff"}));
        assert_eq!(err.code, ErrorCode::NotFound);
    }

    #[test]
    fn the_commands_interface_lists_every_command_once() {
        let files = typescript_bindings().expect("bindings");
        let commands = &files["commands.ts"];
        for cmd in COMMANDS {
            assert_eq!(
                commands.matches(&format!("\n  {cmd}: {{ args: ")).count(),
                1,
                "{cmd} in\n{commands}"
            );
        }
        assert!(commands.contains("  me: { args: {}; result: Me };"));
        assert!(commands.contains("import type { LessonView } from \"./LessonView\";"));
        assert_eq!(
            files["DocId.ts"].trim_end().lines().last(),
            Some("export type DocId = string;")
        );
        assert!(files["Timestamp.ts"].contains("export type Timestamp = number;"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
