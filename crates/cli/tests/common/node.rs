//! Running `cohort serve` peers in tests (on loopback or inside a network namespace) and
//! reading what they hold: notes, threads, members, peers, sync status.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Cohort, KillOnDrop, Run};

/// A fresh data dir with `cohort init --name NAME` done.
pub fn init(name: &str) -> Cohort {
    let who = Cohort::fresh();
    who.ok(&["init", "--name", name]);
    who
}

/// The listen addresses for one transport (`tcp`, `quic`, or `both`) on `ip`.
pub fn listen_args(transport: &str, ip: &str) -> Vec<String> {
    let tcp = format!("/ip4/{ip}/tcp/0");
    let quic = format!("/ip4/{ip}/udp/0/quic-v1");
    let addrs = match transport {
        "tcp" => vec![tcp],
        "quic" => vec![quic],
        _ => vec![tcp, quic],
    };
    addrs
        .into_iter()
        .flat_map(|a| ["--listen".to_owned(), a])
        .collect()
}

/// Starts `cohort serve` on loopback (`tcp` or `quic`), mDNS off, logging to a file next to
/// the data dir; returns once it answers commands.
pub fn serve(who: &Cohort, transport: &str) -> KillOnDrop {
    serve_plus(who, transport, &[])
}

/// [`serve`] with more arguments for `cohort serve` (e.g. `--peer ADDR`).
pub fn serve_plus(who: &Cohort, transport: &str, extra: &[&str]) -> KillOnDrop {
    let mut args = listen_args(transport, "127.0.0.1");
    args.push("--no-mdns".to_owned());
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    serve_with(who, &args)
}

/// The log filter for nodes under test: info, `cohort_net` at debug (`COHORT_TEST_LOG`
/// overrides it).
fn test_log_filter() -> String {
    std::env::var("COHORT_TEST_LOG").unwrap_or_else(|_| "info,cohort_net=debug".into())
}

/// Runs a one-off `cohort ARGS...` (e.g. `join --wait`) logging at the nodes' test level to
/// its stderr, so a failure message can show what its node did.
pub fn run_logged(who: &Cohort, args: &[&str]) -> Run {
    let out = who
        .command()
        .args(args)
        .env("COHORT_LOG", test_log_filter())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cohort: {e}"));
    Run::from_output(args, out)
}

/// Starts `cohort serve ARGS...` (in the user's namespace, if any) at log level info
/// (`cohort_net` at debug; `COHORT_TEST_LOG` overrides this filter), appending its output to
/// [`log_of`]; returns once it answers commands.
pub fn serve_with(who: &Cohort, args: &[&str]) -> KillOnDrop {
    std::fs::create_dir_all(&who.dir).unwrap_or_else(|e| panic!("data dir: {e}"));
    let log = who.dir.with_extension("serve.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("log file: {e}"));
    let err = file.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
    let child = who
        .command()
        .arg("serve")
        .args(args)
        .env("COHORT_LOG", test_log_filter())
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start cohort serve: {e}"));
    // `ip netns exec` replaces itself with the command, so this is the node's own pid.
    let pid = child.id();
    let guard = KillOnDrop(Some(child));
    // Ready once its own serve file is there (a killed node leaves a stale one behind).
    eventually_logged(
        &format!("cohort serve on {} answers", who.dir.display()),
        30,
        &[who],
        || {
            std::fs::read(who.dir.join("serve.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["pid"] == pid)
                && who.run(&["me"]).code == Some(0)
        },
    );
    guard
}

/// Stops a node with SIGTERM; it must exit cleanly and remove its serve file.
pub fn stop(who: &Cohort, mut node: KillOnDrop) {
    let _ = nix::sys::signal::kill(node.pid(), nix::sys::signal::Signal::SIGTERM);
    let status = node.wait();
    assert!(
        status.success(),
        "cohort serve must stop cleanly on SIGTERM: {status}; log:\n{}",
        log_of(&who.dir)
    );
    assert!(
        !who.dir.join("serve.json").exists(),
        "a stopped node removes its serve file"
    );
}

/// The `/p2p/`-terminated addresses the running node printed on start (its last start).
pub fn listen_addrs(who: &Cohort) -> Vec<String> {
    let log = log_of(&who.dir);
    let last_start = log.rfind("Cohort node serving").unwrap_or(0);
    log[last_start..]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("listen"))
        .map(|a| a.trim().to_owned())
        .filter(|a| a.contains("/p2p/"))
        .collect()
}

/// Everything the nodes on this data dir have logged so far.
pub fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.with_extension("serve.log")).unwrap_or_default()
}

/// Polls `check` every 200 ms until it holds; panics after `secs` seconds.
pub fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {secs} s waiting until {what}");
}

/// Like [`eventually`], printing the nodes' logs when it times out.
pub fn eventually_logged(what: &str, secs: u64, nodes: &[&Cohort], check: impl FnMut() -> bool) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually(what, secs, check)
    }));
    if let Err(e) = result {
        for n in nodes {
            eprintln!("--- log of {} ---\n{}", n.dir.display(), log_of(&n.dir));
        }
        std::panic::resume_unwind(e);
    }
}

/// A ticket to `space` for `uses` people, made by `who`.
pub fn ticket(who: &Cohort, space: &str, uses: &str) -> String {
    let invite = who.json(&["invite", "create", "--space", space, "--uses", uses]);
    invite["ticket"]
        .as_str()
        .unwrap_or_else(|| panic!("invite create prints a ticket: {invite}"))
        .to_owned()
}

/// Writes a note in `space` (through `who`'s running node, if any).
pub fn write_note(who: &Cohort, space: &str, title: &str, body: &str) {
    who.ok(&["note", "new", "--space", space, title, "--body", body]);
}

/// Titles of the notes `who` holds in `space`, sorted (empty if the space is unknown).
pub fn note_titles(who: &Cohort, space: &str) -> Vec<String> {
    list_titles(who, &["note", "list", "--space", space])
}

/// Titles of a `--json` list command's rows, sorted (empty if the command fails).
pub fn list_titles(who: &Cohort, args: &[&str]) -> Vec<String> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = who.run(&all);
    if run.code != Some(0) {
        return Vec::new();
    }
    let mut titles: Vec<String> = run
        .json()
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|r| r["title"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    titles.sort();
    titles
}

/// Names of the members of `space`, sorted.
pub fn member_names(who: &Cohort, space: &str) -> Vec<String> {
    let list = who.json(&["member", "list", "--space", space]);
    let mut names: Vec<String> = list
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The ids listed by `cohort --json KIND list --space SPACE` (`None` if that fails).
fn ids(who: &Cohort, kind: &str, space: &str) -> Option<Vec<String>> {
    let run = who.run(&["--json", kind, "list", "--space", space]);
    if run.code != Some(0) {
        return None;
    }
    Some(
        run.json()
            .as_array()?
            .iter()
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// Every note and thread `who` holds in `space`, in full (`note show`, `thread show`), by
/// id: two peers hold the same content exactly when these are equal. `None` if a command
/// fails (the space is not there yet, a document is half way).
pub fn space_content(who: &Cohort, space: &str) -> Option<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for (kind, field) in [("note", None), ("thread", Some("thread"))] {
        for id in ids(who, kind, space)? {
            let run = who.run(&["--json", kind, "show", &id]);
            if run.code != Some(0) {
                return None;
            }
            let doc = run.json();
            let doc = match field {
                Some(f) => doc.get(f)?.clone(),
                None => doc,
            };
            out.insert(id, doc);
        }
    }
    Some(out)
}

/// The titles and bodies of the notes in a [`space_content`], sorted.
pub fn notes_of(content: &BTreeMap<String, Value>) -> Vec<(String, String)> {
    let mut notes: Vec<(String, String)> = content
        .values()
        .filter(|d| d["header"]["kind"] == "note")
        .map(|d| {
            (
                d["title"].as_str().unwrap_or_default().to_owned(),
                d["body"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    notes.sort();
    notes
}

/// The post bodies of every thread in a [`space_content`], sorted.
pub fn posts_of(content: &BTreeMap<String, Value>) -> Vec<String> {
    let mut posts: Vec<String> = content
        .values()
        .filter(|d| d["header"]["kind"] == "thread")
        .flat_map(|d| d["posts"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["body"].as_str().map(str::to_owned))
        .collect();
    posts.sort();
    posts
}

/// `who`'s `sync status` row for the cohort named `space`.
pub fn sync_row(who: &Cohort, space: &str) -> Value {
    let status = who.json(&["sync", "status"]);
    status
        .as_array()
        .and_then(|s| s.iter().find(|v| v["name"] == space))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Whether `who`'s node is connected to at least one peer now.
pub fn connected_to_anyone(who: &Cohort) -> bool {
    let run = who.run(&["--json", "peers"]);
    run.code == Some(0)
        && run
            .json()
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x["connected"] == true))
}

/// How many devices `who` has seen (connected now or before).
pub fn peers_known(who: &Cohort) -> usize {
    who.json(&["peers"]).as_array().map_or(0, Vec::len)
}
