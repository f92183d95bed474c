//! The command-line grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Cohort: learn together without a server. Courses, discussions, notes and journals live
/// in a local data dir as Automerge documents.
#[derive(Debug, Parser)]
#[command(name = "cohort", version, propagate_version = true)]
pub struct Cli {
    /// The data dir to use (default: the platform's data dir, e.g. ~/.local/share/cohort).
    #[arg(long, global = true, env = "COHORT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print results as JSON (errors go to stderr as {"error":{"code","message"}}).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data dir, your personal space and profile (optional: others do it too).
    Init {
        /// Your display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Show who this device belongs to.
    Me,
    /// Change your display name.
    Rename {
        /// The new display name.
        name: String,
    },
    /// Create the built-in sample cohort and course, for a first look around.
    Sample,
    /// Cohort spaces: create, list, show.
    #[command(subcommand)]
    Space(SpaceCmd),
    /// Courses: create, list, show, edit.
    #[command(subcommand)]
    Course(CourseCmd),
    /// Modules of a course.
    #[command(subcommand)]
    Module(ModuleCmd),
    /// Lessons: add, show, edit, checklists, questions, progress.
    #[command(subcommand)]
    Lesson(LessonCmd),
    /// Discussion threads: questions, ideas, how-tos.
    #[command(subcommand)]
    Thread(ThreadCmd),
    /// Notes.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Your private learning journal.
    #[command(subcommand)]
    Journal(JournalCmd),
    /// Full-text search over lessons, posts, notes and journal entries.
    Search {
        /// Words to find (the last word also matches as a prefix).
        query: String,
        /// Only in this space (name, id prefix, or "personal").
        #[arg(long)]
        space: Option<String>,
        /// Only documents of this kind.
        #[arg(long, value_enum)]
        kind: Vec<KindArg>,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Who changed a document, what and when.
    History {
        /// Document id or unique prefix.
        doc: String,
    },
    /// Write a document to a file (or stdout) as Automerge or JSON.
    Export {
        /// Document id or unique prefix.
        doc: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Automerge)]
        format: Format,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Import (merge) an Automerge file of a Cohort document.
    Import {
        /// The file.
        file: PathBuf,
    },
    /// Mark a document deleted.
    Delete {
        /// Document id or unique prefix.
        doc: String,
    },
    /// Compact storage: fold every document's change chunks into its snapshot.
    Compact,
    /// Storage statistics.
    Stats,
    /// Check database integrity and that every document loads.
    Check,
    /// Run commands from standard input, one JSON array of arguments per line; each is
    /// answered with one JSON line once committed.
    Batch,
    /// Run a node on this data dir until stopped (Ctrl-C or SIGTERM): sync every cohort
    /// with its members over the network. Other `cohort` commands on the same data dir go
    /// to the running node.
    Serve(ServeArgs),
    /// Invite people to a cohort.
    #[command(subcommand)]
    Invite(InviteCmd),
    /// Join a cohort with an invite ticket: connects to its members until one admits this
    /// device, then syncs (with a running `cohort serve`, the node does it).
    Join {
        /// The ticket (`cohort1...`).
        ticket: String,
        /// Give up waiting for admission after this many seconds (the join stays pending
        /// and `cohort serve` keeps trying).
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Devices connected now or seen before.
    Peers,
    /// Sync status and control.
    #[command(subcommand)]
    Sync(SyncCmd),
    /// Cohort members.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Your devices: link a new one, add this one to your profile, list, remove.
    #[command(subcommand)]
    Device(DeviceCmd),
}

/// How `cohort serve` runs.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Addresses to listen on (multiaddrs; default: every IPv4 interface, random TCP and
    /// QUIC ports). Repeat for several.
    #[arg(long = "listen", value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// Do not announce or discover devices on the local network (mDNS announces this
    /// device's id to the LAN).
    #[arg(long)]
    pub no_mdns: bool,
    /// Relay connections for peers that cannot reach each other directly (an always-on
    /// peer): any peer may reserve a circuit here; each circuit lasts at most an hour and
    /// carries at most 1 GiB, and what it carries stays end-to-end encrypted.
    #[arg(long)]
    pub relay: bool,
    /// An always-on peer to stay connected to (`/p2p/`-terminated multiaddr). Repeatable.
    #[arg(long = "peer", value_name = "MULTIADDR")]
    pub peers: Vec<String>,
    /// Serve the web UI and its API on this loopback address (e.g. 127.0.0.1:8080). Without
    /// it the API still listens on a random loopback port for other `cohort` commands.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// The built web UI to serve (default: `ui/dist` next to the executable's source tree,
    /// if found).
    #[arg(long, value_name = "DIR")]
    pub ui: Option<PathBuf>,
}

/// `cohort invite ...`
#[derive(Debug, Subcommand)]
pub enum InviteCmd {
    /// Create an invite ticket (facilitators only).
    Create {
        /// The cohort (name, id prefix).
        #[arg(long)]
        space: String,
        /// The role invited people get.
        #[arg(long, value_enum, default_value_t = RoleArg::Learner)]
        role: RoleArg,
        /// How many people may use it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How long it stays open: days, as `7d` or `7` (at most 365).
        #[arg(long, default_value = "7d")]
        expires: String,
    },
}

/// `cohort sync ...`
#[derive(Debug, Subcommand)]
pub enum SyncCmd {
    /// Per space: peers syncing it, documents in flight, last sync.
    Status,
    /// Connect to known peers and sync now (with a running node: ask it; without: run one
    /// until in sync or `--wait` seconds pass).
    Now {
        /// At most this many seconds (without a running node).
        #[arg(long, default_value_t = 15)]
        wait: u64,
    },
}

/// `cohort member ...`
#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    /// List a cohort's members.
    List {
        /// The cohort (name, id prefix).
        #[arg(long)]
        space: String,
    },
    /// Remove a member (facilitators only): their devices are disconnected and receive
    /// nothing new.
    Remove {
        /// The cohort (name, id prefix).
        #[arg(long)]
        space: String,
        /// The member: display name or person id prefix.
        member: String,
    },
}

/// `cohort device ...`
#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Print a one-use ticket that links a new device to you: it gets your personal space
    /// (journal, profile) and your cohorts. Run `cohort device add <ticket>` on it.
    Link {
        /// How long the ticket works: minutes, hours or days, as `10m`, `2h`, `1d` (at most
        /// 7 days).
        #[arg(long, default_value = "10m")]
        expires: String,
    },
    /// On a new device (a data dir holding nothing of its own yet): become a device of the
    /// person who made the ticket. Connects to their device until it links this one, then
    /// syncs (with a running `cohort serve`, the node does it).
    Add {
        /// The ticket from `cohort device link` (`cohort1...`).
        ticket: String,
        /// A name for this device (default: the machine's name).
        #[arg(long)]
        name: Option<String>,
        /// Give up waiting after this many seconds (the link stays pending and `cohort
        /// serve` keeps trying).
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// List your devices, with when each was last seen.
    List,
    /// Unlink one of your other devices (id prefix or name): it is disconnected and
    /// receives nothing new, though it keeps what it has.
    Remove {
        /// The device: id prefix (at least 4 hex digits) or name.
        device: String,
    },
}

/// Roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Runs the cohort.
    Facilitator,
    /// Takes part.
    Learner,
    /// Reads only.
    Observer,
}

/// Document kinds, for filters.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// Courses.
    Course,
    /// Lessons.
    Lesson,
    /// Threads.
    Thread,
    /// Notes.
    Note,
    /// Journal entries.
    Journal,
    /// Charters.
    Charter,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The document's full Automerge history (re-importable).
    Automerge,
    /// The document's current content as JSON.
    Json,
}

/// Thread kinds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ThreadKindArg {
    /// A question that can have an accepted answer.
    Question,
    /// An idea.
    Idea,
    /// A how-to.
    HowTo,
}

/// A body given inline, from a file, or from stdin (`-`).
#[derive(Debug, Clone, Args)]
pub struct BodyArgs {
    /// The text (Markdown).
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the text from a file ("-" for standard input).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
}

/// `cohort space`.
#[derive(Debug, Subcommand)]
pub enum SpaceCmd {
    /// Create a cohort space; you become its facilitator.
    New {
        /// The cohort's name.
        name: String,
        /// Why the cohort exists.
        #[arg(long, default_value = "")]
        purpose: String,
    },
    /// List the spaces held here.
    List,
    /// Show a cohort's charter.
    Show {
        /// Space name or id prefix.
        space: String,
    },
    /// Add a norm to a cohort's charter.
    Norm {
        /// Space name or id prefix.
        space: String,
        /// The norm.
        norm: String,
    },
}

/// `cohort course`.
#[derive(Debug, Subcommand)]
pub enum CourseCmd {
    /// Create a course.
    New {
        /// Title.
        title: String,
        /// Short description.
        #[arg(long, default_value = "")]
        summary: String,
        /// Space (name, id prefix, or "personal"; default: your only cohort, else personal).
        #[arg(long)]
        space: Option<String>,
    },
    /// List courses.
    List {
        /// Only in this space.
        #[arg(long)]
        space: Option<String>,
    },
    /// Show a course outline with your progress.
    Show {
        /// Course id or prefix.
        course: String,
    },
    /// Change a course's title or summary.
    Edit {
        /// Course id or prefix.
        course: String,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        /// New summary.
        #[arg(long)]
        summary: Option<String>,
    },
}

/// `cohort module`.
#[derive(Debug, Subcommand)]
pub enum ModuleCmd {
    /// Add a module at the end of a course.
    Add {
        /// Course id or prefix.
        course: String,
        /// Module title.
        title: String,
    },
}

/// `cohort lesson`.
#[derive(Debug, Subcommand)]
pub enum LessonCmd {
    /// Add a lesson to a course.
    Add {
        /// Course id or prefix.
        course: String,
        /// Lesson title.
        title: String,
        /// Module (id prefix or position like #2; default: the last module).
        #[arg(long)]
        module: Option<String>,
        #[command(flatten)]
        body: BodyArgs,
    },
    /// Show a lesson, its checklist, questions, threads and your progress.
    Show {
        /// Lesson id or prefix.
        lesson: String,
    },
    /// Edit a lesson's title or body.
    Edit {
        /// Lesson id or prefix.
        lesson: String,
        /// New title.
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        body: BodyArgs,
        /// Apply a splice POS:DELETE:TEXT (UTF-16 positions, as editors count); repeatable.
        #[arg(long, value_name = "POS:DEL:TEXT")]
        splice: Vec<String>,
    },
    /// Add a checklist item.
    ChecklistAdd {
        /// Lesson id or prefix.
        lesson: String,
        /// What to do.
        text: String,
    },
    /// Tick (or with --undo untick) a checklist item.
    Tick {
        /// Lesson id or prefix.
        lesson: String,
        /// Item (id prefix or position like #1).
        item: String,
        /// Untick instead.
        #[arg(long)]
        undo: bool,
    },
    /// Add a self-check question.
    QuestionAdd {
        /// Lesson id or prefix.
        lesson: String,
        /// The question.
        prompt: String,
        /// The expected answer.
        #[arg(long, default_value = "")]
        answer: String,
        /// A choice (repeatable) for multiple choice.
        #[arg(long)]
        choice: Vec<String>,
    },
    /// Answer a self-check question.
    Answer {
        /// Lesson id or prefix.
        lesson: String,
        /// Question (id prefix or position like #1).
        question: String,
        /// Your answer.
        answer: String,
    },
    /// Mark a lesson complete (or with --undo not complete).
    Complete {
        /// Lesson id or prefix.
        lesson: String,
        /// Mark not complete instead.
        #[arg(long)]
        undo: bool,
    },
    /// Attach a file to a lesson.
    Attach {
        /// Lesson id or prefix.
        lesson: String,
        /// The file.
        file: PathBuf,
        /// Media type (default: guessed from the extension).
        #[arg(long)]
        mime: Option<String>,
    },
}

/// `cohort thread`.
#[derive(Debug, Subcommand)]
pub enum ThreadCmd {
    /// Open a thread.
    New {
        /// Title.
        title: String,
        /// Kind of thread.
        #[arg(long, value_enum, default_value_t = ThreadKindArg::Question)]
        kind: ThreadKindArg,
        #[command(flatten)]
        body: BodyArgs,
        /// The lesson under discussion (id or prefix); its space is the thread's space.
        #[arg(long)]
        lesson: Option<String>,
        /// Anchor to the first occurrence of this passage of the lesson.
        #[arg(long, requires = "lesson", conflicts_with = "anchor")]
        quote: Option<String>,
        /// Anchor to the UTF-16 range START..END of the lesson body.
        #[arg(long, requires = "lesson", value_name = "START..END")]
        anchor: Option<String>,
        /// Space (when there is no lesson; default: your only cohort, else personal).
        #[arg(long)]
        space: Option<String>,
    },
    /// Reply to a thread.
    Reply {
        /// Thread id or prefix.
        thread: String,
        /// The reply (Markdown).
        body: String,
        /// Reply to this post (id prefix or position like #2).
        #[arg(long)]
        to: Option<String>,
    },
    /// Accept a post as the answer to a question.
    Accept {
        /// Thread id or prefix.
        thread: String,
        /// Post (id prefix or position like #2).
        post: String,
    },
    /// React to a post.
    React {
        /// Thread id or prefix.
        thread: String,
        /// Post (id prefix or position like #2).
        post: String,
        /// An emoji or word.
        reaction: String,
        /// Remove your reaction instead.
        #[arg(long)]
        remove: bool,
    },
    /// Edit one of your posts.
    Edit {
        /// Thread id or prefix.
        thread: String,
        /// Post (id prefix or position like #2).
        post: String,
        /// The new text.
        body: String,
    },
    /// Show a thread with its posts.
    Show {
        /// Thread id or prefix.
        thread: String,
    },
    /// List threads.
    List {
        /// Only in this space.
        #[arg(long)]
        space: Option<String>,
        /// Only about this lesson.
        #[arg(long)]
        lesson: Option<String>,
    },
}

/// `cohort note`.
#[derive(Debug, Subcommand)]
pub enum NoteCmd {
    /// Write a note.
    New {
        /// Title.
        title: String,
        #[command(flatten)]
        body: BodyArgs,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Space (default: personal).
        #[arg(long)]
        space: Option<String>,
    },
    /// List notes.
    List {
        /// Only in this space.
        #[arg(long)]
        space: Option<String>,
    },
    /// Show a note.
    Show {
        /// Note id or prefix.
        note: String,
    },
}

/// `cohort journal`.
#[derive(Debug, Subcommand)]
pub enum JournalCmd {
    /// Write a private journal entry.
    Add {
        /// Title.
        title: String,
        #[command(flatten)]
        body: BodyArgs,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
    },
    /// List your journal entries.
    List,
    /// Show an entry.
    Show {
        /// Entry id or prefix.
        entry: String,
    },
    /// Share one entry into a cohort (a copy; the rest of the journal stays private).
    Share {
        /// Entry id or prefix.
        entry: String,
        /// The cohort (name or id prefix).
        #[arg(long)]
        space: String,
    },
}
