//! Sync between processes: real `cohort serve` processes on loopback TCP, measured against
//! the sync budgets recorded in docs/benchmarks.md, with the samod (Rust automerge-repo over
//! libp2p) baseline run in the same session when its harness binary is given.
//!
//! ```text
//! cargo bench -p cohort-cli --bench sync
//! COHORT_SAMOD=/path/to/probe_core cargo bench -p cohort-cli --bench sync
//! COHORT_SYNC_BENCH_DIR=/tmp/cohort-sync-bench cargo bench -p cohort-cli --bench sync
//! COHORT_SYNC_ONLY=small,text,foundation   # a subset of the scenarios
//! COHORT_SYNC_SCALE=0.1                    # a smaller foundation data set
//! COHORT_SYNC_RUNS=1                       # runs per scenario (default 5; 3 at most for
//!                                          # the text and foundation scenarios)
//! COHORT_SYNC_PERF=/tmp/prof               # `perf record` both nodes during first syncs
//!                                          # and keystrokes
//! COHORT_BIN=/path/to/cohort               # another `cohort` binary than cargo's
//! ```
//!
//! Each scenario copies a prepared data dir for the member that holds the documents (A),
//! starts `cohort serve` on it and on a fresh data dir (B), and has B join by ticket through
//! its node's HTTP API. Times are taken in this process from the API call that starts
//! something to the event, on a node's `/api/events` WebSocket, that says it is done:
//!
//! - first sync: `join` on B until A's `synced` notice for the cohort (A is in sync with a
//!   peer only once that peer has acknowledged every document with A's heads, and B only
//!   acknowledges after committing them; a batch of documents sent whole is committed as
//!   sent and indexed afterwards). Also reported: when B has indexed everything (its
//!   `sync status` shows nothing left to index; every document listed and searchable).
//!   Afterwards both nodes are stopped and every document's heads are compared in process.
//! - keystroke: a 1-character `splice_text_doc` on A until B's change event for the document.
//! - reconnect: B restarts (its node redials A); from A's `peer_connected` notice for B to
//!   A's next `synced` notice.
//!
//! Bytes are counted twice: the sync frames per cohort that `sync status` reports (the
//! engine's own counters), and the TCP payload of A's peer connections as the kernel counts
//! it (`ss -ti`), which adds Noise, Yamux, multistream-select, identify and ping.
//!
//! On a shared machine wall time depends on what else runs, so each first sync also reports
//! the CPU time both processes used and the time their threads waited for a CPU (the
//! scheduler's `/proc/PID/task/*/schedstat`), and, as a floor, how long automerge alone takes
//! to load every document once in this process (a receiver loads each at least once).
//!
//! `COHORT_SYNC_BENCH_DIR` keeps the prepared source data dirs (the 10,000-document set takes
//! minutes to generate). Without `--bench` (e.g. `cargo test --benches`) everything runs at a
//! tiny scale as a smoke test.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use automerge::sync::SyncDoc;
use automerge::{AutoCommit, ReadDoc};
use cohort_api::{Api, CoreHost, DocId, DocKind, OpenOptions, SpaceId};
use serde_json::{Value, json};

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SPACE_NAME: &str = "Bench cohort";

/// The `cohort` binary: `COHORT_BIN`, or the one cargo built for this benchmark.
fn bin() -> PathBuf {
    std::env::var_os("COHORT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cohort")))
}

// ---------------------------------------------------------------------------------------
// Statistics and output
// ---------------------------------------------------------------------------------------

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn p95(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = (v.len() * 95 / 100).min(v.len().saturating_sub(1));
    v.get(i).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row of the results table.
struct Row {
    what: String,
    budget: String,
    measured: String,
    samod: String,
    ratio: String,
}

fn row(
    rows: &mut Vec<Row>,
    what: &str,
    budget: &str,
    measured: String,
    samod: Option<String>,
    ratio: String,
) {
    println!("RESULT {what}: {measured} (budget {budget}; samod {samod:?}; {ratio})");
    rows.push(Row {
        what: what.to_owned(),
        budget: budget.to_owned(),
        measured,
        samod: samod.unwrap_or_else(|| "not run".into()),
        ratio,
    });
}

fn budget_ratio(measured: f64, budget: f64) -> String {
    let r = measured / budget;
    format!("{r:.2} ({})", if r <= 1.0 { "meets" } else { "MISSES" })
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

/// A running `cohort serve`, killed when dropped.
struct Node {
    dir: PathBuf,
    child: Option<Child>,
    pid: u32,
    url: String,
    http_port: u16,
    token: String,
    device: String,
    agent: ureq::Agent,
}

fn cohort(dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("COHORT_DATA_DIR")
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::null());
    cmd
}

fn run_ok(dir: &Path, args: &[&str]) -> Res<String> {
    let out = cohort(dir).args(args).output()?;
    if !out.status.success() {
        return Err(format!(
            "cohort {}: {}\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Node {
    /// Starts `cohort serve` on loopback TCP (mDNS off) and waits until its API answers.
    fn start(dir: &Path) -> Res<Node> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.with_extension("serve.log"))?;
        let child = cohort(dir)
            .args(["serve", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let pid = child.id();
        let mut node = Node {
            dir: dir.to_owned(),
            child: Some(child),
            pid,
            url: String::new(),
            http_port: 0,
            token: String::new(),
            device: String::new(),
            agent: ureq::Agent::new_with_config(
                ureq::Agent::config_builder()
                    .timeout_global(Some(Duration::from_secs(300)))
                    .http_status_as_error(false)
                    .build(),
            ),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = node
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!(
                    "cohort serve on {} exited: {status}; see its log",
                    dir.display()
                )
                .into());
            }
            let info = std::fs::read(dir.join("serve.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
            if let Some(info) = info
                && info["pid"] == pid
            {
                node.url = info["url"].as_str().unwrap_or_default().to_owned();
                node.token = info["token"].as_str().unwrap_or_default().to_owned();
                node.device = info["device"].as_str().unwrap_or_default().to_owned();
                node.http_port = node
                    .url
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                if node.call("me", json!({})).is_ok() {
                    return Ok(node);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("cohort serve on {} did not answer", dir.display()).into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs an API command.
    fn call(&self, cmd: &str, args: Value) -> Res<Value> {
        let mut response = self
            .agent
            .post(format!("{}/api/call/{cmd}", self.url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .send_json(args)?;
        let status = response.status();
        let body: Value = response.body_mut().read_json()?;
        if !status.is_success() {
            return Err(format!("{cmd}: {status}: {body}").into());
        }
        Ok(body)
    }

    /// The node's events from now on, each stamped when this process read it.
    fn events(&self) -> Res<Events> {
        let host = self.url.trim_start_matches("http://");
        let (mut socket, _) =
            tungstenite::connect(format!("ws://{host}/api/events?token={}", self.token))?;
        // Room for every event of a 10,000-document sync; a full queue blocks the reader.
        let (tx, rx) = mpsc::sync_channel(1 << 16);
        std::thread::spawn(move || {
            loop {
                match socket.read() {
                    Ok(tungstenite::Message::Text(text)) => {
                        let at = Instant::now();
                        let Ok(value) = serde_json::from_str::<Value>(&text) else {
                            continue;
                        };
                        if tx.send((at, value)).is_err() {
                            break;
                        }
                    }
                    Ok(tungstenite::Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        });
        Ok(Events { rx })
    }

    /// This cohort's `sync status` row.
    fn status(&self, space: SpaceId) -> Res<Value> {
        let all = self.call("sync_status", json!({}))?;
        all.as_array()
            .and_then(|rows| rows.iter().find(|r| r["space"] == json!(space)).cloned())
            .ok_or_else(|| format!("no sync status for {space}").into())
    }

    /// Sync frame bytes about `space` sent plus received, as `sync status` counts them.
    fn frame_bytes(&self, space: SpaceId) -> Res<u64> {
        let s = self.status(space)?;
        Ok(s["bytes_sent"].as_u64().unwrap_or(0) + s["bytes_received"].as_u64().unwrap_or(0))
    }

    /// TCP payload bytes (sent + received) of this process's established connections other
    /// than its HTTP API, as the kernel counts them.
    fn tcp_bytes(&self) -> Res<u64> {
        tcp_bytes_of(self.pid, self.http_port)
    }

    /// Resident and proportional set size, in KiB.
    fn memory(&self) -> Res<(u64, u64)> {
        let text = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", self.pid))?;
        let field = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((field("Rss:"), field("Pss:")))
    }

    /// CPU time this process's threads ran and waited for a CPU (run queue), from the
    /// scheduler's counters (`/proc/PID/task/*/schedstat`).
    fn cpu(&self) -> Res<Cpu> {
        let mut cpu = Cpu::default();
        for task in std::fs::read_dir(format!("/proc/{}/task", self.pid))? {
            let Ok(text) = std::fs::read_to_string(task?.path().join("schedstat")) else {
                continue;
            };
            let mut fields = text
                .split_whitespace()
                .map(|f| f.parse::<u64>().unwrap_or(0));
            cpu.run += Duration::from_nanos(fields.next().unwrap_or(0));
            cpu.wait += Duration::from_nanos(fields.next().unwrap_or(0));
        }
        // Threads that already ended (the receiver's document loaders) are gone from
        // `task/`; the process's own utime + stime (`/proc/PID/stat`, clock ticks) count
        // them too. Their wait for a CPU is not counted.
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ticks: Vec<u64> = after_name
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let hz =
            u64::try_from(nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100))?;
        let whole = Duration::from_millis(ticks.iter().sum::<u64>() * 1000 / hz.max(1));
        cpu.run = cpu.run.max(whole);
        Ok(cpu)
    }

    /// Stops the node with SIGTERM and waits for it.
    fn stop(mut self) -> Res<()> {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id())?);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)?;
            let status = child.wait()?;
            if !status.success() {
                return Err(
                    format!("cohort serve on {} ended {status}", self.dir.display()).into(),
                );
            }
        }
        Ok(())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn tcp_bytes_of(pid: u32, skip_port: u16) -> Res<u64> {
    let out = Command::new("ss")
        .args(["-tinpH", "state", "established"])
        .output()?;
    if !out.status.success() {
        return Err("ss failed".into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!("pid={pid},");
    let mut total = 0u64;
    let mut counting = false;
    for line in text.lines() {
        if line.contains("users:(") {
            // "Recv-Q Send-Q Local Peer users:((...))" (the state column is left out).
            let local_port = line
                .split_whitespace()
                .nth(2)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok());
            counting = line.contains(&needle) && local_port != Some(skip_port);
            continue;
        }
        if !counting {
            continue;
        }
        for field in line.split_whitespace() {
            for key in ["bytes_sent:", "bytes_received:"] {
                if let Some(n) = field.strip_prefix(key).and_then(|n| n.parse::<u64>().ok()) {
                    total += n;
                }
            }
        }
    }
    Ok(total)
}

/// Time on and waiting for a CPU.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    run: Duration,
    wait: Duration,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, rhs: Cpu) -> Cpu {
        Cpu {
            run: self.run.saturating_sub(rhs.run),
            wait: self.wait.saturating_sub(rhs.wait),
        }
    }
}

/// A node's event stream.
struct Events {
    rx: mpsc::Receiver<(Instant, Value)>,
}

impl Events {
    /// Waits for the first event matching `want`, returning when it was read; events before
    /// it are handed to `seen`.
    fn wait(
        &self,
        what: &str,
        timeout: Duration,
        mut want: impl FnMut(&Value) -> bool,
        mut seen: impl FnMut(Instant, &Value),
    ) -> Res<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((at, event)) => {
                    if event["event"] == "lagged" {
                        eprintln!("  (the event stream lagged while waiting for {what})");
                    }
                    if want(&event) {
                        return Ok(at);
                    }
                    seen(at, &event);
                }
                Err(_) => return Err(format!("timed out waiting for {what}").into()),
            }
        }
    }

    /// Drops events received so far.
    fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }
}

fn is_sync(event: &Value, kind: &str) -> bool {
    event["event"] == "sync" && event["data"]["kind"] == kind
}

fn synced(space: SpaceId) -> impl FnMut(&Value) -> bool {
    move |e| is_sync(e, "synced") && e["data"]["space"] == json!(space)
}

// ---------------------------------------------------------------------------------------
// Data dirs
// ---------------------------------------------------------------------------------------

/// Copies a data dir (a stopped one: database, device key).
fn copy_dir(from: &Path, to: &Path) -> Res<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "cohort.lock" || name == "serve.json" || !entry.file_type()?.is_file() {
            continue;
        }
        std::fs::copy(entry.path(), to.join(&name))?;
    }
    Ok(())
}

fn open(dir: &Path) -> Res<Api> {
    Ok(Api::open(dir, OpenOptions::default())?)
}

fn bench_space(api: &mut Api) -> Res<SpaceId> {
    api.spaces()?
        .into_iter()
        .find(|s| !s.personal)
        .map(|s| s.id)
        .ok_or_else(|| "the source data dir has no cohort".into())
}

/// Every document of `space` with its heads (sorted), read in process from a stopped data
/// dir.
fn heads_of(dir: &Path, space: SpaceId) -> Res<BTreeMap<DocId, Vec<automerge::ChangeHash>>> {
    let mut api = open(dir)?;
    let mut out = BTreeMap::new();
    for summary in api.list(&DocKind::ALL, Some(space), None)? {
        let bytes = api.export_automerge(summary.id)?;
        let mut doc = AutoCommit::load(&bytes)?;
        let mut heads = doc.get_heads();
        heads.sort();
        out.insert(summary.id, heads);
    }
    Ok(out)
}

/// What automerge alone does with the documents of `space`, in this process.
struct Bare {
    /// The sum of the bare `automerge::sync` messages that bring a fresh document level with
    /// each document (both directions, until neither side has anything to say).
    bytes: u64,
    docs: usize,
    /// How long those bare syncs took.
    sync: Duration,
    /// How long loading every document once from its saved bytes took (what a receiver does
    /// at least once per document).
    load: Duration,
}

fn bare_sync(dir: &Path, space: SpaceId) -> Res<Bare> {
    let mut api = open(dir)?;
    let mut saved = Vec::new();
    for summary in api.list(&DocKind::ALL, Some(space), None)? {
        saved.push(api.export_automerge(summary.id)?);
    }
    drop(api);
    let started = Instant::now();
    let mut docs = Vec::new();
    for bytes in &saved {
        docs.push(AutoCommit::load(bytes)?);
    }
    let load = started.elapsed();
    let started = Instant::now();
    let mut total = 0u64;
    for doc in &mut docs {
        let mut fresh = AutoCommit::new();
        let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
        loop {
            let mut progressed = false;
            if let Some(m) = doc.sync().generate_sync_message(&mut sa) {
                let bytes = m.encode();
                total += bytes.len() as u64;
                fresh
                    .sync()
                    .receive_sync_message(&mut sb, automerge::sync::Message::decode(&bytes)?)?;
                progressed = true;
            }
            if let Some(m) = fresh.sync().generate_sync_message(&mut sb) {
                let bytes = m.encode();
                total += bytes.len() as u64;
                doc.sync()
                    .receive_sync_message(&mut sa, automerge::sync::Message::decode(&bytes)?)?;
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
        if fresh.get_heads() != doc.get_heads() {
            return Err("the bare sync did not converge".into());
        }
    }
    Ok(Bare {
        bytes: total,
        docs: docs.len(),
        sync: started.elapsed(),
        load,
    })
}

/// A cohort of `n` small notes: 20 values each (the 4 header fields, title, a ~60-character
/// body, author, time and 12 tags).
fn make_small(dir: &Path, n: usize) -> Res<()> {
    let mut api = open(dir)?;
    let space = api.create_cohort(SPACE_NAME, "Sync benchmark")?;
    let tags: Vec<String> = [
        "work", "p2p", "crdt", "sync", "notes", "alpha", "beta", "gamma", "delta", "open", "tag",
        "last",
    ]
    .iter()
    .map(|t| (*t).to_owned())
    .collect();
    for i in 0..n {
        api.new_note(
            space,
            &format!("Title number {i}"),
            &format!("Some body text for item {i}, a little longer than a title."),
            &tags,
            None,
        )?;
    }
    Ok(())
}

/// A cohort with one note whose body was typed one character per change, `changes` times.
fn make_text(dir: &Path, changes: usize) -> Res<DocId> {
    let mut api = open(dir)?;
    let space = api.create_cohort(SPACE_NAME, "Sync benchmark")?;
    let id = api.new_note(space, "Typed note", "", &[], None)?;
    let mut doc = AutoCommit::load(&api.export_automerge(id)?)?;
    let (_, body) = doc
        .get(automerge::ROOT, "body")?
        .ok_or("the note has no body")?;
    // Pseudo-random letters and spaces (xorshift, fixed seed), as the samod harness types.
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz ".chars().collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..changes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let c = alphabet[(x % 27) as usize].to_string();
        automerge::transaction::Transactable::splice_text(&mut doc, &body, i, 0, &c)?;
        let _ = doc.commit();
    }
    api.import_automerge(&doc.save())?;
    api.compact()?;
    Ok(id)
}

/// The foundation data set (scaled), as the foundation benchmark generates it.
fn make_foundation(dir: &Path, scale: f64) -> Res<()> {
    let mut api = open(dir)?;
    let mut spec = cohort_testkit::Spec::foundation();
    let scaled = |n: usize| ((n as f64 * scale).round() as usize).max(1);
    spec.courses = scaled(spec.courses);
    spec.threads = scaled(spec.threads);
    spec.notes = scaled(spec.notes);
    spec.journal = scaled(spec.journal);
    let t = Instant::now();
    cohort_testkit::generate(api.core(), &spec)?;
    api.compact()?;
    eprintln!(
        "generated the foundation set ({} documents) in {:.0} s",
        spec.documents(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A prepared source data dir, made once (kept in `COHORT_SYNC_BENCH_DIR` if set).
fn source(root: &Path, name: &str, make: impl FnOnce(&Path) -> Res<()>) -> Res<PathBuf> {
    let dir = root.join(name);
    if dir.join("ready").exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    make(&dir)?;
    std::fs::write(dir.join("ready"), b"")?;
    Ok(dir)
}

// ---------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------

/// One first sync: A (a copy of `src`) invites, B (fresh) joins through its node.
struct Pair {
    a: Node,
    b: Node,
    a_events: Events,
    b_events: Events,
    space: SpaceId,
    dir_a: PathBuf,
    dir_b: PathBuf,
}

struct FirstSync {
    time: Duration,
    /// When B's `sync status` first said nothing was left to index (after `join`): every
    /// document loaded, checked and indexed, so listed and searchable.
    indexed: Duration,
    imported: usize,
    frame_bytes: u64,
    tcp_bytes: u64,
    /// CPU of A and B during the sync.
    cpu: (Cpu, Cpu),
}

impl FirstSync {
    fn cpu_note(&self) -> String {
        format!(
            "CPU A {:.0} ms + B {:.0} ms, waiting for a CPU A {:.0} ms + B {:.0} ms",
            ms(self.cpu.0.run),
            ms(self.cpu.1.run),
            ms(self.cpu.0.wait),
            ms(self.cpu.1.wait)
        )
    }
}

fn first_sync(src: &Path, work: &Path, run: usize) -> Res<(Pair, FirstSync)> {
    let dir_a = work.join(format!("a{run}"));
    let dir_b = work.join(format!("b{run}"));
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
    copy_dir(src, &dir_a)?;
    let space = bench_space(&mut open(&dir_a)?)?;
    run_ok(&dir_b, &["init", "--name", "Ben"])?;
    let a = Node::start(&dir_a)?;
    let b = Node::start(&dir_b)?;
    let a_events = a.events()?;
    let b_events = b.events()?;
    let ticket = a.call("invite_create", json!({ "space": space }))?["ticket"]
        .as_str()
        .ok_or("no ticket")?
        .to_owned();

    let profiles = profile(&[(&a, &dir_a), (&b, &dir_b)], "perf")?;
    let (cpu_a, cpu_b) = (a.cpu()?, b.cpu()?);
    let t0 = Instant::now();
    b.call("join", json!({ "ticket": ticket }))?;
    let done = a_events.wait(
        "A in sync with B",
        Duration::from_secs(600),
        synced(space),
        |_, _| {},
    )?;
    let time = done - t0;
    let cpu = (a.cpu()? - cpu_a, b.cpu()? - cpu_b);
    stop_profiles(profiles)?;
    // B goes on indexing what it kept (loading, checking, search rows) in the background:
    // until its status says nothing waits and it is a member.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let s = b.status(space).unwrap_or(Value::Null);
        if s["indexing"] == json!(0) && s["joining"].is_null() {
            break;
        }
        if Instant::now() > deadline {
            return Err("B did not finish indexing".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let indexed = t0.elapsed();
    // Let the last acknowledgements and events land before counting.
    std::thread::sleep(Duration::from_millis(300));
    // B's import events (read after the fact; the channel kept them): one per document
    // once indexed.
    let mut imported = BTreeSet::new();
    while let Ok((_, e)) = b_events.rx.try_recv() {
        if e["event"] == "change"
            && e["data"]["change"] == "imported"
            && e["data"]["space"] == json!(space)
        {
            imported.insert(e["data"]["doc"].as_str().unwrap_or_default().to_owned());
        }
    }
    let frame_bytes = a.frame_bytes(space)?;
    let tcp_bytes = a.tcp_bytes()?;
    Ok((
        Pair {
            a,
            b,
            a_events,
            b_events,
            space,
            dir_a,
            dir_b,
        },
        FirstSync {
            time,
            indexed,
            imported: imported.len(),
            frame_bytes,
            tcp_bytes,
            cpu,
        },
    ))
}

/// With `COHORT_SYNC_PERF=DIR` set, records each node with `perf record -g` (into
/// `DIR/<data dir name>.<extension>`) until [`stop_profiles`].
fn profile(nodes: &[(&Node, &Path)], extension: &str) -> Res<Vec<Child>> {
    let Some(out_dir) = std::env::var_os("COHORT_SYNC_PERF").map(PathBuf::from) else {
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(&out_dir)?;
    let mut out = Vec::new();
    for (node, dir) in nodes {
        let name = dir.file_name().ok_or("a data dir without a name")?;
        out.push(
            Command::new("perf")
                .args(["record", "-F", "999", "--call-graph", "dwarf,32768", "-o"])
                .arg(out_dir.join(name).with_extension(extension))
                .args(["-p", &node.pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    Ok(out)
}

fn stop_profiles(profiles: Vec<Child>) -> Res<()> {
    for mut p in profiles {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(p.id())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT)?;
        p.wait()?;
    }
    Ok(())
}

impl Pair {
    /// Stops both nodes and checks that B holds every document of the cohort with A's heads.
    fn stop_and_verify(self) -> Res<usize> {
        let Pair {
            a,
            b,
            space,
            dir_a,
            dir_b,
            ..
        } = self;
        a.stop()?;
        b.stop()?;
        let (ha, hb) = (heads_of(&dir_a, space)?, heads_of(&dir_b, space)?);
        if ha != hb {
            let missing = ha.keys().filter(|k| !hb.contains_key(k)).count();
            let differ = ha
                .iter()
                .filter(|(k, v)| hb.get(k).is_some_and(|h| h != *v))
                .count();
            return Err(format!(
                "B is not level with A: {} vs {} documents, {missing} missing, {differ} with other heads",
                ha.len(),
                hb.len()
            )
            .into());
        }
        Ok(ha.len())
    }

    /// 1-character splices into `doc` on A until B's change event; milliseconds each, and
    /// the milliseconds A's API took to acknowledge each edit.
    fn keystrokes(&self, doc: DocId, n: usize, at: usize) -> Res<(Vec<f64>, Vec<f64>)> {
        let profiles = profile(
            &[(&self.a, &self.dir_a), (&self.b, &self.dir_b)],
            "keys.perf",
        )?;
        let mut total = Vec::new();
        let mut local = Vec::new();
        for i in 0..n {
            std::thread::sleep(Duration::from_millis(30));
            self.b_events.drain();
            let t0 = Instant::now();
            self.a.call(
                "splice_text_doc",
                json!({ "id": doc, "splices": [{ "pos": at + i, "delete": 0, "insert": "x" }] }),
            )?;
            let acked = t0.elapsed();
            let seen = self.b_events.wait(
                "the keystroke at B",
                Duration::from_secs(30),
                |e| e["event"] == "change" && e["data"]["doc"] == json!(doc),
                |_, _| {},
            )?;
            total.push(ms(seen - t0));
            local.push(ms(acked));
        }
        stop_profiles(profiles)?;
        Ok((total, local))
    }

    /// Restarts B `n` times; per reconnect: milliseconds from A's `peer_connected` notice for
    /// B to A's `synced` notice, sync frame bytes and TCP bytes both ways at A.
    fn reconnects(&mut self, n: usize) -> Res<Vec<(f64, u64, u64)>> {
        let mut out = Vec::new();
        for _ in 0..n {
            std::thread::sleep(Duration::from_millis(200));
            let b = std::mem::replace(&mut self.b, Node::placeholder());
            b.stop()?;
            std::thread::sleep(Duration::from_millis(100));
            self.a_events.drain();
            let frames0 = self.a.frame_bytes(self.space)?;
            self.b = Node::start(&self.dir_b)?;
            let device = self.b.device.clone();
            let connected = self.a_events.wait(
                "B reconnects",
                Duration::from_secs(60),
                |e| is_sync(e, "peer_connected") && e["data"]["device"] == json!(device),
                |_, _| {},
            )?;
            let done = self.a_events.wait(
                "A in sync with B again",
                Duration::from_secs(60),
                synced(self.space),
                |_, _| {},
            )?;
            std::thread::sleep(Duration::from_millis(200));
            let frames = self.a.frame_bytes(self.space)? - frames0;
            let tcp = self.a.tcp_bytes()?;
            self.b_events = self.b.events()?;
            out.push((ms(done - connected), frames, tcp));
        }
        Ok(out)
    }
}

impl Node {
    fn placeholder() -> Node {
        Node {
            dir: PathBuf::new(),
            child: None,
            pid: 0,
            url: String::new(),
            http_port: 0,
            token: String::new(),
            device: String::new(),
            agent: ureq::Agent::new_with_defaults(),
        }
    }
}

/// Medians of the CPU time each side ran and waited for a CPU.
fn cpu_medians(cpus: &[(Cpu, Cpu)]) -> String {
    let m = |f: &dyn Fn(&(Cpu, Cpu)) -> Duration| {
        median(&cpus.iter().map(|c| ms(f(c))).collect::<Vec<_>>())
    };
    format!(
        "CPU A {:.0} + B {:.0} ms; waited for a CPU A {:.0} + B {:.0} ms",
        m(&|c| c.0.run),
        m(&|c| c.1.run),
        m(&|c| c.0.wait),
        m(&|c| c.1.wait)
    )
}

fn any_note(dir: &Path, space: SpaceId) -> Res<DocId> {
    open(dir)?
        .notes(Some(space))?
        .first()
        .map(|n| n.id)
        .ok_or_else(|| "no note".into())
}

// ---------------------------------------------------------------------------------------
// samod
// ---------------------------------------------------------------------------------------

#[derive(Default, Debug)]
struct Samod {
    first_1000_ms: Option<f64>,
    first_1000_bytes: Option<u64>,
    small_change_ms: Option<f64>,
    text_first_ms: Option<f64>,
    text_keystroke_ms: Vec<f64>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .map(|v| v.trim_end_matches(','))
}

fn run_samod(path: &Path, docs: usize) -> Res<Samod> {
    eprintln!("running the samod baseline: {} bench", path.display());
    let mut child = Command::new(path)
        .args(["bench", "/ip4/127.0.0.1/tcp/0"])
        .env("NDOCS", docs.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut text = String::new();
    child
        .stdout
        .take()
        .ok_or("no stdout")?
        .read_to_string(&mut text)?;
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("samod harness failed ({status}):\n{text}").into());
    }
    let mut s = Samod::default();
    let mut big_keystrokes = 0;
    for line in text.lines() {
        println!("samod| {line}");
        let median = field(line, "median_ms=").and_then(|v| v.parse::<f64>().ok());
        if line.starts_with("RESULT a_first_sync") {
            s.first_1000_ms = median;
            s.first_1000_bytes =
                field(line, "median_app_bytes=").and_then(|v| v.parse::<u64>().ok());
        } else if line.starts_with("RESULT c_incremental") {
            s.small_change_ms = median;
        } else if line.starts_with("RESULT b_first_sync_100k_char_doc_100k_commits") {
            s.text_first_ms = median;
        } else if line.contains("incremental 1-char insert on big doc") {
            // The first three are on the document of 100,000 one-character changes.
            big_keystrokes += 1;
            if big_keystrokes <= 3
                && let Some(v) = line
                    .split(':')
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .and_then(|v| v.parse::<f64>().ok())
            {
                s.text_keystroke_ms.push(v);
            }
        }
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------

fn main() -> Res<()> {
    let smoke = !std::env::args().any(|a| a == "--bench");
    let only: Option<BTreeSet<String>> = std::env::var("COHORT_SYNC_ONLY")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    let wanted = |name: &str| only.as_ref().is_none_or(|o| o.contains(name));
    let scale: f64 = std::env::var("COHORT_SYNC_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke { 0.002 } else { 1.0 });
    let tmp = tempfile::Builder::new()
        .prefix("cohort-sync-bench-")
        .tempdir()?;
    let root = std::env::var_os("COHORT_SYNC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("sources"));
    std::fs::create_dir_all(&root)?;
    let work = tmp.path().join("runs");
    std::fs::create_dir_all(&work)?;
    let (small_docs, text_changes) = if smoke { (20, 200) } else { (1000, 100_000) };
    let runs = std::env::var("COHORT_SYNC_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke { 1 } else { 5 });
    let mut rows = Vec::new();

    let samod = match std::env::var_os("COHORT_SAMOD") {
        Some(path) if !smoke => Some(run_samod(Path::new(&path), small_docs)?),
        _ => {
            println!("samod baseline not run (set COHORT_SAMOD to its probe_core binary)");
            None
        }
    };
    let samod = samod.unwrap_or_default();
    let samod_ms = |v: Option<f64>| v.map(|v| format!("{v:.1} ms"));

    if wanted("small") {
        let src = source(&root, &format!("small-{small_docs}"), |d| {
            make_small(d, small_docs)
        })?;
        let space = bench_space(&mut open(&src)?)?;
        let note = any_note(&src, space)?;
        let b = bare_sync(&src, space)?;
        let (bare, ndocs) = (b.bytes, b.docs);
        println!(
            "small: {ndocs} documents; bare automerge::sync messages {bare} bytes ({:.1} ms in process); loading each document once {:.1} ms",
            ms(b.sync),
            ms(b.load)
        );
        let mut times = Vec::new();
        let mut imports = Vec::new();
        let mut frames = Vec::new();
        let mut tcp = Vec::new();
        let mut keys = Vec::new();
        let mut keys_local = Vec::new();
        let mut reconnect = Vec::new();
        let mut cpus = Vec::new();
        for run in 0..runs {
            let (mut pair, first) = first_sync(&src, &work, run)?;
            println!(
                "small run {run}: first sync {:.1} ms (all indexed at B {:.1} ms, {} imported), frames {} B, tcp {} B; {}",
                ms(first.time),
                ms(first.indexed),
                first.imported,
                first.frame_bytes,
                first.tcp_bytes,
                first.cpu_note()
            );
            cpus.push(first.cpu);
            times.push(ms(first.time));
            imports.push(ms(first.indexed));
            frames.push(first.frame_bytes as f64);
            tcp.push(first.tcp_bytes as f64);
            let (k, kl) = pair.keystrokes(note, if smoke { 3 } else { 20 }, 5)?;
            println!("small run {run}: keystrokes ms [{}]", list(&k));
            keys.extend(k);
            keys_local.extend(kl);
            let r = pair.reconnects(if smoke { 1 } else { 3 })?;
            println!("small run {run}: reconnects (ms, frame B, tcp B) {r:?}");
            reconnect.extend(r);
            let n = pair.stop_and_verify()?;
            println!("small run {run}: verified {n} documents level");
        }
        let m = median(&times);
        row(
            &mut rows,
            &format!(
                "first sync of {small_docs} small notes to an empty member (median of {runs}; runs {})",
                list(&times)
            ),
            "< 150 ms",
            format!(
                "{m:.1} ms (everything indexed and listed at B: {:.1} ms; {}; automerge loading each document once in process: {:.0} ms)",
                median(&imports),
                cpu_medians(&cpus),
                ms(b.load)
            ),
            samod_ms(samod.first_1000_ms),
            match samod.first_1000_ms {
                Some(s) => format!("{} ; samod/ours {:.1}x", budget_ratio(m, 150.0), s / m),
                None => budget_ratio(m, 150.0),
            },
        );
        row(
            &mut rows,
            &format!(
                "  bytes of that first sync: sync frames; TCP payload (bare automerge::sync: {bare})"
            ),
            "<= 1.2x bare",
            format!(
                "{:.0} B ({:.2}x); {:.0} B ({:.2}x)",
                median(&frames),
                median(&frames) / bare as f64,
                median(&tcp),
                median(&tcp) / bare as f64
            ),
            samod.first_1000_bytes.map(|b| format!("{b} B app bytes")),
            format!(
                "frames {}; TCP {}",
                budget_ratio(median(&frames) / bare as f64, 1.2),
                budget_ratio(median(&tcp) / bare as f64, 1.2)
            ),
        );
        row(
            &mut rows,
            &format!(
                "keystroke in a small note reaches the peer (median; p95 of {}; A's acknowledged edit alone {:.1} ms)",
                keys.len(),
                median(&keys_local)
            ),
            "< 20 ms",
            format!("{:.1} ms; {:.1} ms", median(&keys), p95(&keys)),
            samod_ms(samod.small_change_ms).map(|s| format!("{s} (one field change)")),
            budget_ratio(median(&keys), 20.0),
        );
        let rt: Vec<f64> = reconnect.iter().map(|r| r.0).collect();
        let rf: Vec<f64> = reconnect.iter().map(|r| r.1 as f64).collect();
        let rb: Vec<f64> = reconnect.iter().map(|r| r.2 as f64).collect();
        row(
            &mut rows,
            &format!(
                "reconnect of peers in sync, {ndocs} documents: connected -> in sync (median of {})",
                rt.len()
            ),
            "< 50 ms",
            format!("{:.1} ms", median(&rt)),
            None,
            budget_ratio(median(&rt), 50.0),
        );
        row(
            &mut rows,
            "  bytes of that reconnect: sync frames; TCP payload incl. libp2p handshake",
            &format!("< {:.0} B", ndocs as f64 * 1.024),
            format!("{:.0} B; {:.0} B", median(&rf), median(&rb)),
            None,
            format!(
                "frames {}; TCP {}",
                budget_ratio(median(&rf), ndocs as f64 * 1.024),
                budget_ratio(median(&rb), ndocs as f64 * 1.024)
            ),
        );
    }

    if wanted("text") {
        let mut note = None;
        let src = source(&root, &format!("text-{text_changes}"), |d| {
            note = Some(make_text(d, text_changes)?);
            Ok(())
        })?;
        let space = bench_space(&mut open(&src)?)?;
        let note = match note {
            Some(n) => n,
            None => any_note(&src, space)?,
        };
        let mut times = Vec::new();
        let mut keys = Vec::new();
        let mut keys_local = Vec::new();
        for run in 0..runs.min(3) {
            let (pair, first) = first_sync(&src, &work, 100 + run)?;
            println!(
                "text run {run}: first sync of the {text_changes}-change note {:.1} ms, frames {} B, tcp {} B; {}",
                ms(first.time),
                first.frame_bytes,
                first.tcp_bytes,
                first.cpu_note()
            );
            times.push(ms(first.time));
            let (k, kl) = pair.keystrokes(note, if smoke { 3 } else { 30 }, text_changes / 2)?;
            println!(
                "text run {run}: keystrokes ms [{}]; A acknowledged each after ms [{}]",
                list(&k),
                list(&kl)
            );
            keys.extend(k);
            keys_local.extend(kl);
            pair.stop_and_verify()?;
        }
        row(
            &mut rows,
            &format!(
                "first sync of one note of {text_changes} one-character changes (median of {})",
                times.len()
            ),
            "(none)",
            format!("{:.1} ms", median(&times)),
            samod_ms(samod.text_first_ms),
            samod
                .text_first_ms
                .map(|s| format!("samod/ours {:.1}x", s / median(&times)))
                .unwrap_or_default(),
        );
        let sk = (!samod.text_keystroke_ms.is_empty()).then(|| median(&samod.text_keystroke_ms));
        row(
            &mut rows,
            &format!(
                "keystroke in that note reaches the peer (median; p95 of {}; A's acknowledged edit alone {:.1} ms)",
                keys.len(),
                median(&keys_local)
            ),
            "< 20 ms",
            format!("{:.1} ms; {:.1} ms", median(&keys), p95(&keys)),
            samod_ms(sk),
            match sk {
                Some(s) => format!(
                    "{} ; samod/ours {:.1}x",
                    budget_ratio(median(&keys), 20.0),
                    s / median(&keys)
                ),
                None => budget_ratio(median(&keys), 20.0),
            },
        );
    }

    if wanted("foundation") {
        let src = source(&root, &format!("foundation-{scale}"), |d| {
            make_foundation(d, scale)
        })?;
        let space = bench_space(&mut open(&src)?)?;
        let b = bare_sync(&src, space)?;
        let (bare, ndocs) = (b.bytes, b.docs);
        println!(
            "foundation: {ndocs} documents in the cohort; bare automerge::sync messages {bare} bytes ({:.0} ms in process); loading each document once {:.0} ms",
            ms(b.sync),
            ms(b.load)
        );
        let mut times = Vec::new();
        let mut frames = Vec::new();
        let mut tcp = Vec::new();
        let mut reconnect = Vec::new();
        let mut memory = Vec::new();
        let mut cpus = Vec::new();
        let mut imports = Vec::new();
        for run in 0..runs.min(3) {
            let (mut pair, first) = first_sync(&src, &work, 200 + run)?;
            println!(
                "foundation run {run}: first sync {:.1} ms (all indexed at B {:.1} ms, {} imported), frames {} B, tcp {} B; {}",
                ms(first.time),
                ms(first.indexed),
                first.imported,
                first.frame_bytes,
                first.tcp_bytes,
                first.cpu_note()
            );
            cpus.push(first.cpu);
            times.push(ms(first.time));
            imports.push(ms(first.indexed));
            frames.push(first.frame_bytes as f64);
            tcp.push(first.tcp_bytes as f64);
            let after_a = pair.a.memory()?;
            let after_b = pair.b.memory()?;
            let r = pair.reconnects(if smoke { 1 } else { 3 })?;
            println!("foundation run {run}: reconnects (ms, frame B, tcp B) {r:?}");
            reconnect.extend(r);
            std::thread::sleep(Duration::from_secs(1));
            let idle_b = pair.b.memory()?;
            memory.push((after_a, after_b, idle_b));
            let n = pair.stop_and_verify()?;
            println!("foundation run {run}: verified {n} documents level");
        }
        // A node holding the set, started and idle with no peer.
        let idle_dir = work.join("idle");
        let _ = std::fs::remove_dir_all(&idle_dir);
        copy_dir(&src, &idle_dir)?;
        let idle = Node::start(&idle_dir)?;
        std::thread::sleep(Duration::from_secs(2));
        let idle_mem = idle.memory()?;
        idle.stop()?;

        let m = median(&times);
        row(
            &mut rows,
            &format!(
                "first sync of the foundation set ({ndocs} documents) to an empty member (median of {}; runs {})",
                times.len(),
                list(&times)
            ),
            "< 1.5 s",
            format!(
                "{m:.0} ms (everything indexed and listed at B: {:.0} ms; {}; automerge loading each document once in process: {:.0} ms)",
                median(&imports),
                cpu_medians(&cpus),
                ms(b.load)
            ),
            None,
            budget_ratio(m, 1500.0),
        );
        row(
            &mut rows,
            &format!(
                "  bytes of that first sync: sync frames; TCP payload (bare automerge::sync: {bare})"
            ),
            "<= 1.2x bare",
            format!(
                "{:.0} B ({:.2}x); {:.0} B ({:.2}x)",
                median(&frames),
                median(&frames) / bare as f64,
                median(&tcp),
                median(&tcp) / bare as f64
            ),
            None,
            format!(
                "frames {}; TCP {}",
                budget_ratio(median(&frames) / bare as f64, 1.2),
                budget_ratio(median(&tcp) / bare as f64, 1.2)
            ),
        );
        let rt: Vec<f64> = reconnect.iter().map(|r| r.0).collect();
        let rf: Vec<f64> = reconnect.iter().map(|r| r.1 as f64).collect();
        let rb: Vec<f64> = reconnect.iter().map(|r| r.2 as f64).collect();
        row(
            &mut rows,
            &format!(
                "reconnect of peers in sync, {ndocs} documents: connected -> in sync (median of {})",
                rt.len()
            ),
            "< 50 ms",
            format!("{:.1} ms", median(&rt)),
            None,
            budget_ratio(median(&rt), 50.0),
        );
        row(
            &mut rows,
            "  bytes of that reconnect: sync frames; TCP payload incl. libp2p handshake",
            &format!("< {:.0} B", ndocs as f64 * 1.024),
            format!("{:.0} B; {:.0} B", median(&rf), median(&rb)),
            None,
            format!(
                "frames {}; TCP {}",
                budget_ratio(median(&rf), ndocs as f64 * 1.024),
                budget_ratio(median(&rb), ndocs as f64 * 1.024)
            ),
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        let (a, b, bi) = memory.get(memory.len() / 2).copied().unwrap_or_default();
        row(
            &mut rows,
            "memory of `cohort serve` holding the set (RSS / PSS)",
            "report",
            format!(
                "idle, no peer: {:.1} / {:.1} MiB; A after serving the first sync: {:.1} / {:.1} MiB; B after receiving it: {:.1} / {:.1} MiB; B restarted and reconnected: {:.1} / {:.1} MiB",
                mib(idle_mem.0),
                mib(idle_mem.1),
                mib(a.0),
                mib(a.1),
                mib(b.0),
                mib(b.1),
                mib(bi.0),
                mib(bi.1)
            ),
            None,
            String::new(),
        );
    }

    println!("\n| benchmark | budget | measured | samod | ratio |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what, r.budget, r.measured, r.samod, r.ratio
        );
    }
    Ok(())
}
