//! Crash safety: a `cohort batch` writer is killed with SIGKILL at random points while edits
//! stream in, again and again on the same data dir. After every kill, everything that was
//! acknowledged must still be there, and the database must be intact.
//!
//! The seed can be changed with `COHORT_CRASH_SEED=<u64>`; a failure message always names the
//! seed and the iteration, so a failing run can be replayed.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::ChildStdin;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use common::Cohort;

/// How many times the writer is killed.
const ITERATIONS: usize = 30;
/// At most this many edits are queued on the writer's stdin per iteration.
const MAX_EDITS: usize = 40;
const LESSON_BODY: &str = "Start.";

/// One edit sent to the batch, and what it should leave behind once acknowledged.
#[derive(Debug, Clone)]
enum Edit {
    Reply(String),
    Journal(String),
    /// Inserts this many characters at the start of the lesson body.
    Splice(usize),
    React,
    Compact,
}

/// What has been sent and acknowledged so far, over all iterations.
#[derive(Debug, Default)]
struct Ledger {
    sent_replies: BTreeSet<String>,
    acked_replies: BTreeSet<String>,
    sent_entries: BTreeSet<String>,
    acked_entries: BTreeSet<String>,
    sent_splice_chars: usize,
    acked_splice_chars: usize,
    acks: usize,
    sent: usize,
}

/// Random text that exercises JSON escaping and UTF-16 (quotes, backslashes, newlines,
/// accents, CJK, emoji), never blank at either end.
fn random_text(rng: &mut StdRng) -> String {
    const PIECES: &[&str] = &[
        "a", "b", "c", "x", "y", "z", "0", "7", " ", " ", "é", "漢", "😀", "\"", "\\", "\n", "{",
        "]", ",", ":",
    ];
    let len = rng.random_range(1..24);
    let mut s = String::from("t");
    for _ in 0..len {
        s.push_str(PIECES[rng.random_range(0..PIECES.len())]);
    }
    s.push('.');
    s
}

#[allow(
    clippy::expect_used,
    reason = "a test helper: a failed expectation fails the test"
)]
fn plan(rng: &mut StdRng, iteration: usize, thread: &str, lesson: &str) -> Vec<(Edit, String)> {
    let count = rng.random_range(1..=MAX_EDITS);
    (0..count)
        .map(|n| {
            let tag = format!("{iteration}.{n}");
            let (edit, words): (Edit, Vec<String>) = match rng.random_range(0..20) {
                0..=8 => {
                    let body = format!("reply {tag} {}", random_text(rng));
                    let words = vec!["thread".into(), "reply".into(), thread.into(), body.clone()];
                    (Edit::Reply(body), words)
                }
                9..=13 => {
                    let title = format!("entry {tag}");
                    let words = vec![
                        "journal".into(),
                        "add".into(),
                        title.clone(),
                        "--body".into(),
                        random_text(rng),
                    ];
                    (Edit::Journal(title), words)
                }
                14..=17 => {
                    let insert = "x".repeat(rng.random_range(1..4));
                    let splice = format!("0:0:{insert}");
                    let words = vec![
                        "lesson".into(),
                        "edit".into(),
                        lesson.into(),
                        "--splice".into(),
                        splice,
                    ];
                    (Edit::Splice(insert.len()), words)
                }
                18 => {
                    let words = vec![
                        "thread".into(),
                        "react".into(),
                        thread.into(),
                        "#1".into(),
                        "👍".into(),
                    ];
                    (Edit::React, words)
                }
                _ => (Edit::Compact, vec!["compact".into()]),
            };
            let line = serde_json::to_string(&words).expect("words encode as JSON");
            (edit, line)
        })
        .collect()
}

/// Where an iteration's kill lands.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Right after this many acknowledgements were read (the rest still queued on stdin).
    AfterAcks(usize),
    /// After this long, wherever the writer is.
    After(Duration),
}

/// Runs one writer, kills it, and returns the acknowledgement lines read before it died.
#[allow(
    clippy::expect_used,
    reason = "a test helper: a failed expectation fails the test"
)]
fn run_and_kill(
    user: &Cohort,
    stderr_file: &std::path::Path,
    lines: &[String],
    kill: KillPoint,
) -> Vec<Value> {
    let mut batch = user.batch(stderr_file);
    let mut stdin: ChildStdin = batch.stdin.take().expect("batch stdin is piped");
    let mut stdout = batch.stdout.take().expect("batch stdout is piped");

    // Read acknowledgements on a thread, so the kill can land while lines are in flight.
    let (tx, rx) = sync_channel::<()>(lines.len() + 1);
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            match stdout.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let value: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| Value::String(format!("unparsable {line:?}: {e}")));
                    acks.push(value);
                    let _ = tx.send(());
                }
            }
        }
        acks
    });

    // Queue every line at once (a few KiB: fits in the pipe), and keep stdin open so the
    // writer never sees end-of-file and exits by itself.
    let all: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert!(
        all.len() < 60_000,
        "the queued lines must fit in a pipe buffer"
    );
    stdin
        .write_all(all.as_bytes())
        .expect("queue edits on the batch's stdin");
    stdin.flush().expect("flush the batch's stdin");

    match kill {
        KillPoint::AfterAcks(n) => {
            for _ in 0..n {
                if rx.recv_timeout(Duration::from_secs(20)).is_err() {
                    break;
                }
            }
        }
        KillPoint::After(delay) => std::thread::sleep(delay),
    }
    let status = batch.guard.sigkill();
    drop(stdin);
    let acks = reader.join().expect("the ack reader thread does not panic");
    assert_eq!(
        status.signal(),
        Some(nix::sys::signal::Signal::SIGKILL as i32),
        "the batch writer must still have been running when killed (it exited with {status}); \
         its stderr: {}",
        std::fs::read_to_string(stderr_file).unwrap_or_default()
    );
    acks
}

#[allow(
    clippy::expect_used,
    reason = "a test helper: a failed expectation fails the test"
)]
fn integrity_check(user: &Cohort) -> String {
    let conn = rusqlite::Connection::open_with_flags(
        user.db(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("the database file opens after a crash");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
        .expect("PRAGMA integrity_check runs")
}

#[test]
fn acknowledged_edits_survive_sigkill_at_random_points() {
    let seed: u64 = std::env::var("COHORT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xC0_4087);
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    // Set up with ordinary commands: a cohort, a course, a lesson and a thread to write into.
    let user = Cohort::fresh();
    user.ok(&["init", "--name", "Crash Tester"]);
    user.create(&["space", "new", "Crash cohort"]);
    let course = user.create(&["course", "new", "Durability 101"]);
    let lesson = user.create(&[
        "lesson",
        "add",
        &course,
        "Write-ahead logs",
        "--body",
        LESSON_BODY,
    ]);
    let thread = user.create(&["thread", "new", "Does it survive?", "--body", "First post."]);
    let stderr_file = user.dir.with_file_name("batch-stderr.txt");

    let mut ledger = Ledger::default();
    let mut kills_mid_stream = 0;
    for iteration in 0..ITERATIONS {
        let context = format!("seed {seed}, iteration {iteration}");
        let edits = plan(&mut rng, iteration, &thread, &lesson);
        let kill = if rng.random_bool(0.5) {
            KillPoint::AfterAcks(rng.random_range(0..=edits.len()))
        } else {
            KillPoint::After(Duration::from_millis(rng.random_range(0..400)))
        };
        for (edit, _) in &edits {
            match edit {
                Edit::Reply(body) => {
                    ledger.sent_replies.insert(body.clone());
                }
                Edit::Journal(title) => {
                    ledger.sent_entries.insert(title.clone());
                }
                Edit::Splice(n) => ledger.sent_splice_chars += n,
                Edit::React | Edit::Compact => {}
            }
        }
        ledger.sent += edits.len();

        let lines: Vec<String> = edits.iter().map(|(_, l)| l.clone()).collect();
        let acks = run_and_kill(&user, &stderr_file, &lines, kill);
        assert!(
            acks.len() <= edits.len(),
            "{context}: more acknowledgements than edits: {acks:?}"
        );
        if acks.len() < edits.len() {
            kills_mid_stream += 1;
        }
        for (ack, (edit, line)) in acks.iter().zip(&edits) {
            assert!(
                ack.get("ok").is_some(),
                "{context}: every edit in the stream is valid, so each must be acknowledged \
                 with {{\"ok\":...}}; {line} got {ack}"
            );
            match edit {
                Edit::Reply(body) => {
                    ledger.acked_replies.insert(body.clone());
                }
                Edit::Journal(title) => {
                    ledger.acked_entries.insert(title.clone());
                }
                Edit::Splice(n) => ledger.acked_splice_chars += n,
                Edit::React | Edit::Compact => {}
            }
        }
        ledger.acks += acks.len();

        // Reopen: the file is intact, Cohort's own check passes...
        let integrity = integrity_check(&user);
        assert_eq!(
            integrity, "ok",
            "{context}: SQLite must find the database intact after SIGKILL"
        );
        user.run(&["check"]).expect_code(
            0,
            &format!("{context}: `cohort check` must pass after SIGKILL"),
        );

        // ...every acknowledged reply is in the thread, and nothing that was never sent is.
        let view = user.json(&["thread", "show", &thread]);
        let posts = view["thread"]["posts"]
            .as_array()
            .expect("thread.posts is a list");
        let bodies: BTreeSet<String> = posts
            .iter()
            .filter_map(|p| p["body"].as_str())
            .filter(|b| b.starts_with("reply "))
            .map(str::to_owned)
            .collect();
        let lost: Vec<_> = ledger.acked_replies.difference(&bodies).collect();
        assert!(
            lost.is_empty(),
            "{context}: acknowledged replies were lost: {lost:?}"
        );
        let invented: Vec<_> = bodies.difference(&ledger.sent_replies).collect();
        assert!(
            invented.is_empty(),
            "{context}: replies nobody sent appeared: {invented:?}"
        );

        // ...every acknowledged journal entry is listed...
        let journal = user.json(&["journal", "list"]);
        let titles: BTreeSet<String> = journal
            .as_array()
            .expect("journal list is a list")
            .iter()
            .filter_map(|e| e["title"].as_str().map(str::to_owned))
            .collect();
        let lost: Vec<_> = ledger.acked_entries.difference(&titles).collect();
        assert!(
            lost.is_empty(),
            "{context}: acknowledged journal entries were lost: {lost:?}"
        );
        let invented: Vec<_> = titles.difference(&ledger.sent_entries).collect();
        assert!(
            invented.is_empty(),
            "{context}: journal entries nobody wrote: {invented:?}"
        );

        // ...and the lesson body holds at least every acknowledged insertion.
        let shown = user.json(&["lesson", "show", &lesson]);
        let body = shown["lesson"]["body"]
            .as_str()
            .expect("lesson.body is text");
        let len = body.chars().count();
        let base = LESSON_BODY.len();
        assert!(
            len >= base + ledger.acked_splice_chars,
            "{context}: {} acknowledged characters were spliced in, but the body is {body:?}",
            ledger.acked_splice_chars
        );
        assert!(
            len <= base + ledger.sent_splice_chars && body.ends_with(LESSON_BODY),
            "{context}: the body may only hold what was sent: {body:?}"
        );
        assert!(
            body.trim_end_matches(LESSON_BODY).chars().all(|c| c == 'x'),
            "{context}: splices insert only 'x' at the start, yet the body is {body:?}"
        );
    }

    eprintln!(
        "crash safety: seed {seed}, {ITERATIONS} kills ({kills_mid_stream} with edits still \
         queued), {} edits sent, {} acknowledged, all {} acked replies, {} acked entries and \
         {} acked splice chars survived; {:.1?}",
        ledger.sent,
        ledger.acks,
        ledger.acked_replies.len(),
        ledger.acked_entries.len(),
        ledger.acked_splice_chars,
        started.elapsed()
    );
    assert!(
        kills_mid_stream >= ITERATIONS / 4,
        "most kills should land with edits still queued, or the test proves little \
         (only {kills_mid_stream} of {ITERATIONS} did)"
    );
    assert!(
        ledger.acks > 0,
        "some edits must have been acknowledged, or the test proves little"
    );
}
