//! Running `cohort serve` nodes in tests: start one on loopback with its log in a file, wait
//! until it answers, stop it cleanly, read its log and listen addresses; plus the small
//! steps of a cohort story (a user, a ticket, the note titles a node holds).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Cohort, KillOnDrop, command};

/// A fresh data dir with a user called `name`.
pub fn init(name: &str) -> Cohort {
    let who = Cohort::fresh();
    who.ok(&["init", "--name", name]);
    who
}

/// Starts `cohort serve` on loopback (`tcp` or `quic`), mDNS off, logging at `info` to a
/// file next to the data dir ([`log_of`]); returns once it answers commands.
pub fn serve(who: &Cohort, transport: &str) -> KillOnDrop {
    let listen = match transport {
        "quic" => "/ip4/127.0.0.1/udp/0/quic-v1",
        _ => "/ip4/127.0.0.1/tcp/0",
    };
    std::fs::create_dir_all(&who.dir).unwrap_or_else(|e| panic!("data dir: {e}"));
    let log = who.dir.with_extension("serve.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("log file: {e}"));
    let err = file.try_clone().unwrap_or_else(|e| panic!("log file: {e}"));
    let child = command(&who.dir)
        .args(["serve", "--listen", listen, "--no-mdns"])
        .env("COHORT_LOG", "info")
        .stdout(file)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start cohort serve: {e}"));
    let pid = child.id();
    let guard = KillOnDrop(Some(child));
    // Ready once its own serve file is there (a killed node leaves a stale one behind).
    eventually(
        &format!("cohort serve on {} answers", who.dir.display()),
        30,
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

/// Everything the data dir's nodes logged so far (every run appends to one file).
pub fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.with_extension("serve.log")).unwrap_or_default()
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

/// The titles of the notes of `space` that `who` holds, sorted (empty if it cannot say).
pub fn note_titles(who: &Cohort, space: &str) -> Vec<String> {
    let run = who.run(&["--json", "note", "list", "--space", space]);
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

/// A new invite ticket to `space` with `uses` uses.
pub fn ticket(who: &Cohort, space: &str, uses: &str) -> String {
    let invite = who.json(&["invite", "create", "--space", space, "--uses", uses]);
    invite["ticket"]
        .as_str()
        .unwrap_or_else(|| panic!("invite create prints a ticket: {invite}"))
        .to_owned()
}
