//! Bad input end to end: damaged files, unusable data dirs, wrong ids and wrong usage each
//! end with the documented exit code and a message a person can act on, and leave the data
//! untouched.
//!
//! Exit codes: 2 usage, 3 not found or ambiguous, 4 invalid input or document, 5 data dir
//! locked or unusable, 6 database damaged, foreign or newer.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;

use serde_json::Value;

use common::Cohort;

/// A data dir with a cohort, a course, a lesson and a thread, ready to be poked at.
struct World {
    user: Cohort,
    lesson: String,
    thread: String,
}

fn world() -> World {
    let user = Cohort::fresh();
    user.ok(&["init", "--name", "Ada"]);
    user.create(&["space", "new", "Study group"]);
    let course = user.create(&["course", "new", "Rust"]);
    let lesson = user.create(&["lesson", "add", &course, "Ownership", "--body", "Hello"]);
    let thread = user.create(&["thread", "new", "Why borrow?", "--body", "Asking."]);
    World {
        user,
        lesson,
        thread,
    }
}

#[allow(
    clippy::expect_used,
    reason = "a test helper: a failed expectation fails the test"
)]
fn doc_count(user: &Cohort) -> u64 {
    user.json(&["stats"])["docs"]
        .as_u64()
        .expect("stats.docs is a number")
}

#[test]
fn damaged_and_foreign_import_files_are_refused_with_exit_4() {
    let w = world();
    let tmp = tempfile::tempdir().expect("temp dir");
    let good = tmp.path().join("thread.automerge");
    let good_str = good.to_str().expect("utf-8 path");
    w.user.ok(&["export", &w.thread, "--output", good_str]);
    let bytes = std::fs::read(&good).expect("the export was written");
    assert!(
        bytes.len() > 64,
        "an exported thread is more than a few bytes"
    );
    let json_export = w.user.run(&["export", &w.thread, "--format", "json"]);
    json_export.expect_code(0, "a JSON export goes to stdout");

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xFF;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated to half", bytes[..bytes.len() / 2].to_vec()),
        ("truncated to the magic bytes", bytes[..4].to_vec()),
        ("cut one byte short", bytes[..bytes.len() - 1].to_vec()),
        ("one byte flipped in the middle", flipped),
        (
            "plain text",
            b"this is not an automerge document\n".to_vec(),
        ),
        ("empty", Vec::new()),
        (
            "the JSON export instead",
            json_export.stdout.clone().into_bytes(),
        ),
        (
            "automerge magic then garbage",
            [&bytes[..8], &[0xAB; 200][..]].concat(),
        ),
    ];

    let before = doc_count(&w.user);
    for (what, content) in &cases {
        let file = tmp.path().join("bad.automerge");
        std::fs::write(&file, content).expect("write the bad file");
        let file = file.to_str().expect("utf-8 path");

        let run = w.user.run(&["import", file]);
        run.expect_code(
            4,
            &format!("importing a file that is {what} is invalid input"),
        );
        assert!(
            run.stderr.starts_with("error: ")
                && run.stderr.lines().count() == 1
                && run.stderr.trim().len() > "error: ".len() + 10,
            "a {what} file gets one clear line on stderr (no log noise), got {:?}",
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "nothing is printed as a result for a {what} file"
        );

        let run = w.user.run(&["--json", "import", file]);
        run.expect_code(4, &format!("--json does not change the exit code ({what})"));
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "with --json, stderr is exactly the one JSON error line a script parses ({what}): {:?}",
            run.stderr
        );
        let error = run.json_error();
        assert_eq!(
            error["code"], "invalid_document",
            "a {what} file is reported as an invalid document: {error}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "the JSON error carries a message for people: {error}"
        );
    }
    assert_eq!(
        doc_count(&w.user),
        before,
        "no refused import may add a document"
    );

    let missing = tmp.path().join("no-such-file.automerge");
    let run = w
        .user
        .run(&["import", missing.to_str().expect("utf-8 path")]);
    run.expect_code(3, "importing a file that does not exist is 'not found'");
    assert!(
        run.stderr.contains("no-such-file"),
        "the message names the missing file: {}",
        run.stderr
    );

    // The good file still imports (merging into the copy held here changes nothing).
    let imported = w.user.json(&["import", good_str]);
    assert_eq!(
        imported["id"], w.thread,
        "re-importing the real export finds the same thread"
    );
    w.user.ok(&["check"]);
}

#[test]
fn a_damaged_database_file_is_refused_with_exit_6_and_left_alone() {
    let user = Cohort::fresh();
    std::fs::create_dir_all(&user.dir).expect("make the data dir");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(user.db(), &garbage).expect("write garbage where the database goes");

    let run = user.run(&["me"]);
    run.expect_code(6, "a database file that is not SQLite is damaged");
    assert!(
        run.stderr.contains("cohort.sqlite3"),
        "the message names the file so the person can move it away: {}",
        run.stderr
    );
    let error = user
        .run(&["--json", "course", "list"])
        .expect_code(6, "same with --json")
        .json_error();
    assert_eq!(
        error["code"], "corrupt_database",
        "the code says it is damaged: {error}"
    );
    assert_eq!(
        std::fs::read(user.db()).expect("the file is still there"),
        garbage,
        "Cohort must never overwrite a file it cannot read: it may be someone's data"
    );
}

#[test]
fn a_database_of_another_application_is_refused_with_exit_6() {
    let user = Cohort::fresh();
    std::fs::create_dir_all(&user.dir).expect("make the data dir");
    {
        let conn = rusqlite::Connection::open(user.db()).expect("create a foreign database");
        conn.execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
             INSERT INTO customers (name) VALUES ('Grace');",
        )
        .expect("fill the foreign database");
    }

    let run = user.run(&["init", "--name", "Ada"]);
    run.expect_code(6, "a SQLite file with someone else's tables is not ours");
    assert!(
        run.stderr.contains("cohort.sqlite3") && run.stderr.contains("another application"),
        "the message names the file and says whose it is not: {}",
        run.stderr
    );
    let error = user
        .run(&["--json", "me"])
        .expect_code(6, "same with --json")
        .json_error();
    assert_eq!(error["code"], "foreign_database", "{error}");

    let conn = rusqlite::Connection::open(user.db()).expect("the foreign database still opens");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .expect("list tables")
        .query_map([], |r| r.get(0))
        .expect("query tables")
        .collect::<Result<_, _>>()
        .expect("read table names");
    assert_eq!(
        tables,
        ["customers"],
        "Cohort must not add its tables to a foreign database"
    );
}

#[test]
fn a_database_from_a_newer_cohort_is_refused_with_exit_6() {
    let user = Cohort::fresh();
    user.ok(&["init"]);
    {
        let conn = rusqlite::Connection::open(user.db()).expect("open our database");
        conn.execute_batch("PRAGMA user_version = 9999;")
            .expect("pretend a newer schema");
    }
    let run = user.run(&["--json", "me"]);
    run.expect_code(6, "a schema from the future cannot be read safely");
    assert_eq!(
        run.json_error()["code"],
        "newer_version",
        "the code says to update Cohort"
    );
}

#[test]
fn unusable_data_dirs_are_refused_with_exit_5() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "I am a file, not a directory").expect("write the file");
    let run = Cohort::at(&file).run(&["me"]);
    run.expect_code(
        5,
        "a data dir that is a regular file cannot hold a database",
    );
    assert!(
        run.stderr.contains("a-file"),
        "the message names the path: {}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).expect("the file is still there"),
        "I am a file, not a directory",
        "the file in the way is left alone"
    );

    let below_file = file.join("data");
    Cohort::at(&below_file)
        .run(&["me"])
        .expect_code(5, "a data dir below a regular file");

    // Tests may run as root, for whom chmod does not stop writes; /proc and /sys refuse even
    // root.
    for path in [
        "/proc/cohort-test",
        "/sys/cohort-test",
        "/proc/self/cohort-test",
    ] {
        let run = Cohort::at(path).run(&["--json", "init"]);
        run.expect_code(
            5,
            &format!("{path} cannot be created or written, even by root"),
        );
        let error = run.json_error();
        assert_eq!(error["code"], "data_dir_unusable", "{path}: {error}");
        assert!(
            !Path::new(path).exists(),
            "{path} must not have been created"
        );
    }
}

#[test]
fn a_data_dir_in_use_by_another_process_is_refused_with_exit_5() {
    let user = Cohort::fresh();
    user.ok(&["init", "--name", "Ada"]);
    let stderr = user.dir.with_file_name("holder-stderr.txt");
    let mut holder = user.batch(&stderr);
    let me = holder.call(&["me"]);
    assert_eq!(
        me["ok"]["display_name"], "Ada",
        "the holder has the data dir open: {me}"
    );

    let run = user.run(&["course", "new", "Sneaky"]);
    run.expect_code(
        5,
        "a second process must not write a data dir another one holds",
    );
    assert!(
        run.stderr.contains("in use"),
        "the message says the data dir is in use: {}",
        run.stderr
    );
    let error = user
        .run(&["--json", "me"])
        .expect_code(5, "same with --json")
        .json_error();
    assert_eq!(error["code"], "data_dir_locked", "{error}");

    // Once the holder ends, the data dir is free again and nothing was written meanwhile.
    drop(holder.stdin.take());
    let status = holder.guard.wait();
    assert!(
        status.success(),
        "batch ends cleanly at end of input: {status}"
    );
    let courses = user.json(&["course", "list"]);
    assert_eq!(
        courses,
        Value::Array(vec![]),
        "the refused `course new` wrote nothing"
    );
}

#[test]
fn unknown_ambiguous_and_malformed_ids_exit_3_or_4() {
    let w = world();
    let user = &w.user;
    let nobody = "0123456789abcdef0123456789abcdef";

    // Unknown: exit 3, and --json says not_found.
    for args in [
        vec!["thread", "show", nobody],
        vec!["lesson", "show", "deadbeef"],
        vec!["history", "beef"],
        vec!["course", "new", "Lost", "--space", "No such cohort"],
        vec!["thread", "reply", w.thread.as_str(), "hi", "--to", "#99"],
        vec!["thread", "accept", w.thread.as_str(), "#5"],
        vec!["lesson", "tick", w.lesson.as_str(), "#1"],
        vec!["lesson", "answer", w.lesson.as_str(), "#1", "42"],
    ] {
        let mut with_json = vec!["--json"];
        with_json.extend(&args);
        let run = user.run(&with_json);
        run.expect_code(3, "an id that matches nothing is 'not found'");
        assert_eq!(
            run.json_error()["code"],
            "not_found",
            "`{}`",
            args.join(" ")
        );
    }

    // Too short or not an id at all: invalid input, exit 4.
    for bad in ["ab", "", "zzzzzzzz", "not-an-id"] {
        let run = user.run(&["--json", "thread", "show", bad]);
        run.expect_code(4, &format!("{bad:?} is not an id"));
        assert_eq!(run.json_error()["code"], "invalid_input", "{bad:?}");
    }

    // The right id of the wrong kind is invalid input too.
    let run = user.run(&["thread", "show", &w.lesson]);
    run.expect_code(4, "a lesson id is not a thread id");
    assert!(
        run.stderr.contains("lesson"),
        "the message says what the id is: {}",
        run.stderr
    );

    // Ambiguous names: two cohorts with one name.
    user.create(&["space", "new", "Twins"]);
    user.create(&["space", "new", "twins"]);
    let run = user.run(&["--json", "course", "new", "Which?", "--space", "Twins"]);
    run.expect_code(3, "a name two cohorts share is ambiguous");
    assert_eq!(run.json_error()["code"], "ambiguous_id");

    // Ambiguous prefixes: among 30 posts, some two share a prefix (pigeonhole over 16 hex
    // digits); find one that cannot be read as a position.
    let mut batch = user.batch(&user.dir.with_file_name("batch-stderr.txt"));
    for n in 0..30 {
        let ack = batch.call(&["thread", "reply", &w.thread, &format!("reply {n}")]);
        assert!(ack.get("ok").is_some(), "reply {n} is acknowledged: {ack}");
    }
    drop(batch);
    let posts: Vec<String> = user.json(&["thread", "show", &w.thread])["thread"]["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| p["id"].as_str().expect("post id").to_owned())
        .collect();
    let mut shared = BTreeSet::new();
    for (i, a) in posts.iter().enumerate() {
        for b in &posts[i + 1..] {
            let common: String = a
                .chars()
                .zip(b.chars())
                .take_while(|(x, y)| x == y)
                .map(|(x, _)| x)
                .collect();
            let positional = common.chars().all(|c| c.is_ascii_digit()) && common.len() < 4;
            if !common.is_empty() && !positional {
                shared.insert(common);
            }
        }
    }
    let prefix = shared
        .first()
        .expect("30 random ids share some non-numeric prefix");
    let run = user.run(&["--json", "thread", "react", &w.thread, prefix, "👍"]);
    run.expect_code(3, &format!("post prefix {prefix:?} matches two posts"));
    assert_eq!(
        run.json_error()["code"],
        "ambiguous_id",
        "prefix {prefix:?}"
    );
    assert!(
        user.json(&["thread", "show", &w.thread])["thread"]["posts"]
            .as_array()
            .expect("posts")
            .iter()
            .all(|p| p["reactions"].as_object().is_none_or(|r| r.is_empty())),
        "an ambiguous reaction must not land on any post"
    );
}

#[test]
fn a_splice_outside_the_lesson_exits_4_and_changes_nothing() {
    let w = world();
    let user = &w.user;
    user.ok(&["lesson", "edit", &w.lesson, "--body", "a😀b"]);
    let before = user.json(&["lesson", "show", &w.lesson]);
    let history_before = user
        .json(&["history", &w.lesson])
        .as_array()
        .expect("history")
        .len();

    for (splices, why) in [
        (vec!["99:0:x"], "a position past the end"),
        (vec!["0:99:"], "a deletion past the end"),
        (vec!["2:0:x"], "a position inside an emoji's surrogate pair"),
        (vec!["1:1:"], "deleting half of an emoji"),
        (vec!["x:1:a"], "a splice that does not parse"),
        (
            vec!["1:0:y", "50:0:z"],
            "a valid splice followed by an invalid one (all or nothing)",
        ),
    ] {
        let mut args = vec!["--json", "lesson", "edit", w.lesson.as_str()];
        for s in &splices {
            args.extend(["--splice", s]);
        }
        let run = user.run(&args);
        run.expect_code(4, &format!("{why} is an invalid edit"));
        let code = run.json_error()["code"].clone();
        assert!(
            code == "invalid_edit" || code == "invalid_input",
            "{why}: reported as an invalid edit, got {code}"
        );
        assert_eq!(
            user.json(&["lesson", "show", &w.lesson]),
            before,
            "{why}: a refused edit must leave the lesson exactly as it was"
        );
    }
    assert_eq!(
        user.json(&["history", &w.lesson])
            .as_array()
            .expect("history")
            .len(),
        history_before,
        "refused edits leave no change in the history"
    );

    // The same lesson still takes a valid splice afterwards.
    user.ok(&["lesson", "edit", &w.lesson, "--splice", "3:0:c"]);
    let body = user.json(&["lesson", "show", &w.lesson])["lesson"]["body"].clone();
    assert_eq!(body, "a😀cb", "UTF-16 position 3 is right after the emoji");

    let run = user.run(&["lesson", "edit", &w.lesson]);
    run.expect_code(4, "an edit with nothing to change is invalid input");
    assert!(run.stderr.contains("nothing to change"), "{}", run.stderr);
}

#[test]
fn batch_answers_bad_lines_with_errors_and_keeps_going() {
    let w = world();
    let mut batch = w.user.batch(&w.user.dir.with_file_name("batch-stderr.txt"));
    let stdin = batch.stdin.as_mut().expect("stdin");
    // Lines that are not a JSON array of strings.
    for line in ["not json", "{\"thread\":1}", "[1,2]"] {
        writeln!(stdin, "{line}").expect("write a bad line");
        stdin.flush().expect("flush");
        let mut answer = String::new();
        batch
            .stdout
            .as_mut()
            .expect("stdout")
            .read_line(&mut answer)
            .expect("read the answer");
        let value: Value = serde_json::from_str(&answer).expect("the answer is JSON");
        assert_eq!(
            value["error"]["code"], "invalid_input",
            "{line:?} -> {value}"
        );
    }
    for (words, code) in [
        (vec!["no-such-command"], "invalid_input"),
        (vec!["init", "--name", "Eve"], "invalid_input"),
        (vec!["batch"], "invalid_input"),
        (
            vec!["thread", "show", "0123456789abcdef0123456789abcdef"],
            "not_found",
        ),
        (
            vec!["lesson", "edit", w.lesson.as_str(), "--splice", "99:0:x"],
            "invalid_edit",
        ),
    ] {
        let answer = batch.call(&words);
        assert_eq!(
            answer["error"]["code"],
            code,
            "`{}` -> {answer}",
            words.join(" ")
        );
    }
    let answer = batch.call(&["thread", "reply", &w.thread, "still here"]);
    assert!(
        answer["ok"]["id"].is_string(),
        "after errors, batch still works: {answer}"
    );
    drop(batch.stdin.take());
    assert!(
        batch.guard.wait().success(),
        "batch exits 0 at end of input even after errors"
    );
    let me = w.user.json(&["me"]);
    assert_eq!(
        me["display_name"], "Ada",
        "`init --name` inside a batch changed nothing"
    );
}

#[test]
fn usage_errors_exit_2_before_touching_the_data_dir() {
    let user = Cohort::fresh();
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["thread"],
        vec!["thread", "reply", "abcd"],
        vec!["search", "x", "--kind", "poem"],
        vec!["search", "x", "--limit", "many"],
        vec!["lesson", "edit", "abcd", "--splice"],
        vec!["thread", "new", "T", "--quote", "words"],
        vec!["thread", "new", "T", "--kind", "rant"],
        vec![
            "lesson",
            "add",
            "abcd",
            "T",
            "--body",
            "x",
            "--body-file",
            "f",
        ],
        vec!["export", "abcd", "--format", "pdf"],
        vec!["me", "--no-such-flag"],
    ] {
        let run = user.run(&args);
        run.expect_code(2, "wrong usage is exit 2");
        assert!(
            run.stderr.starts_with("error:") || run.stderr.contains("Usage:"),
            "`cohort {}` explains the usage error on stderr: {}",
            args.join(" "),
            run.stderr
        );
    }
    assert!(
        !user.dir.exists(),
        "usage errors must not create the data dir"
    );
}

/// The subcommand names listed under "Commands:" in a help text.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_works_for_every_subcommand() {
    let user = Cohort::fresh();
    let top = user.ok(&["--help"]);
    let mut queue: Vec<Vec<String>> = subcommands(&top.stdout)
        .into_iter()
        .map(|c| vec![c])
        .collect();
    let mut seen = Vec::new();
    while let Some(path) = queue.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = user.run(&args);
        run.expect_code(0, "--help always works");
        assert!(
            run.stdout.contains("Usage:") && run.stdout.len() > 40,
            "`cohort {}` prints help on stdout: {:?}",
            args.join(" "),
            run.stdout
        );
        for sub in subcommands(&run.stdout) {
            let mut deeper = path.clone();
            deeper.push(sub);
            queue.push(deeper);
        }
        seen.push(path.join(" "));
    }
    for expected in [
        "init",
        "batch",
        "space new",
        "course edit",
        "module add",
        "lesson edit",
        "lesson checklist-add",
        "thread new",
        "thread react",
        "note new",
        "journal share",
        "search",
        "history",
        "export",
        "import",
        "check",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "`cohort {expected} --help` was reached by walking the help; saw {seen:?}"
        );
    }
    assert!(
        seen.len() >= 45,
        "every subcommand has help ({} found)",
        seen.len()
    );
    let version = user.ok(&["--version"]);
    assert!(
        version.stdout.starts_with("cohort "),
        "--version names the program"
    );
    assert!(!user.dir.exists(), "help must not create the data dir");
}
