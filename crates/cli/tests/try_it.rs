//! The "try it" story, end to end, as a person would type it: set up a cohort and a course,
//! study a lesson, ask about a passage, get an answer, find it again, look at who changed
//! what, carry the discussion to another data dir, and keep a journal that stays private
//! until shared.

mod common;

use serde_json::Value;

use common::Cohort;

const CARDS: &str = "The engine reads punched cards. Each card holds one operation, \
                     and the mill carries it out.";

/// The (doc id, kind) pairs of a search's JSON result.
fn hits(results: &Value) -> Vec<(String, String)> {
    results
        .as_array()
        .unwrap_or_else(|| panic!("search --json prints a list, got {results}"))
        .iter()
        .map(|h| {
            (
                h["doc"].as_str().unwrap_or_default().to_owned(),
                h["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn try_it_story() {
    let ada = Cohort::fresh();
    let tmp = tempfile::tempdir().expect("temp dir");

    // Ada sets up her data dir with her name.
    let init = ada.ok(&["init", "--name", "Ada Lovelace"]);
    assert!(
        init.stdout.contains("Ada Lovelace"),
        "init greets by name: {}",
        init.stdout
    );
    let me = ada.json(&["me"]);
    assert_eq!(
        me["display_name"], "Ada Lovelace",
        "the name was recorded: {me}"
    );
    let person = me["person"].as_str().expect("me.person").to_owned();

    // She creates a cohort and, in it (her only cohort, so the default), a course.
    let cohort = ada.create(&[
        "space",
        "new",
        "Engine Club",
        "--purpose",
        "Understand the engine",
    ]);
    let spaces = ada.json(&["space", "list"]);
    assert!(
        spaces
            .as_array()
            .expect("spaces")
            .iter()
            .any(|s| s["id"] == cohort.as_str()
                && s["name"] == "Engine Club"
                && s["personal"] == false),
        "the new cohort is listed next to the personal space: {spaces}"
    );
    let course = ada.create(&[
        "course",
        "new",
        "The Analytical Engine",
        "--summary",
        "Cards and mill",
    ]);
    let listed = ada.json(&["course", "list", "--space", "Engine Club"]);
    assert_eq!(
        listed[0]["id"],
        course.as_str(),
        "the course lives in the cohort: {listed}"
    );

    // A module with two lessons; the second body comes from a file.
    ada.create(&["module", "add", &course, "Basics"]);
    let cards = ada.create(&["lesson", "add", &course, "Punched cards", "--body", CARDS]);
    let notes_file = tmp.path().join("bernoulli.md");
    std::fs::write(&notes_file, "Note G computes Bernoulli numbers.").expect("write body file");
    let bernoulli = ada.create(&[
        "lesson",
        "add",
        &course,
        "Bernoulli numbers",
        "--body-file",
        notes_file.to_str().expect("utf-8 path"),
    ]);
    let outline = ada.json(&["course", "show", &course]);
    let module = &outline["outline"][0];
    assert_eq!(
        module["title"], "Basics",
        "the lessons went into the module: {outline}"
    );
    let titles: Vec<&str> = module["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .filter_map(|l| l["title"].as_str())
        .collect();
    assert_eq!(
        titles,
        ["Punched cards", "Bernoulli numbers"],
        "lessons keep their order"
    );

    // She adds a checklist item, ticks it, and completes the first lesson.
    let item = ada.create(&["lesson", "checklist-add", &cards, "Read about the cards"]);
    ada.ok(&["lesson", "tick", &cards, "#1"]);
    ada.ok(&["lesson", "complete", &cards]);
    let lesson = ada.json(&["lesson", "show", &cards]);
    assert_eq!(
        lesson["progress"]["checklist"][&item], true,
        "the ticked item shows as done: {lesson}"
    );
    assert!(
        !lesson["progress"]["completed_at"].is_null(),
        "the lesson shows as completed: {lesson}"
    );
    let outline = ada.json(&["course", "show", &course]);
    let done: Vec<bool> = outline["outline"][0]["lessons"]
        .as_array()
        .expect("lessons")
        .iter()
        .map(|l| l["completed"] == true)
        .collect();
    assert_eq!(
        done,
        [true, false],
        "only the first lesson is complete in the outline"
    );
    let human = ada.ok(&["course", "show", &course]).stdout;
    assert!(
        human.contains("[x]") && human.contains("[ ]"),
        "the outline shows ticks: {human}"
    );

    // She asks a question about one passage of the lesson.
    let thread = ada.create(&[
        "thread",
        "new",
        "How do punched cards hold operations?",
        "--lesson",
        &cards,
        "--quote",
        "Each card holds one operation",
        "--body",
        "Is it one punched card per step?",
    ]);
    let view = ada.json(&["thread", "show", &thread]);
    assert_eq!(
        view["anchor"]["state"], "attached",
        "the quote anchors the thread: {view}"
    );
    assert_eq!(view["anchor"]["text"], "Each card holds one operation");
    assert_eq!(view["thread"]["lesson"], cards.as_str());
    let about = ada.json(&["thread", "list", "--lesson", &cards]);
    assert_eq!(
        about[0]["id"],
        thread.as_str(),
        "the lesson's threads include it: {about}"
    );

    // A reply, a reaction and an accepted answer.
    let reply = ada.create(&[
        "thread",
        "reply",
        &thread,
        "Yes: one operation card per step.",
    ]);
    ada.ok(&["thread", "react", &thread, "#2", "👍"]);
    ada.ok(&["thread", "accept", &thread, "#2"]);
    let view = ada.json(&["thread", "show", &thread]);
    let posts = view["thread"]["posts"].as_array().expect("posts");
    assert_eq!(posts.len(), 2, "the question and its reply: {view}");
    assert_eq!(posts[1]["id"], reply.as_str());
    assert_eq!(
        view["thread"]["accepted"],
        reply.as_str(),
        "the reply is the accepted answer"
    );
    assert_eq!(
        posts[1]["reactions"]["👍"],
        serde_json::json!([person]),
        "Ada's reaction is recorded on the reply"
    );
    let human = ada.ok(&["thread", "show", &thread]).stdout;
    assert!(
        human.contains("accepted answer") && human.contains("Ada Lovelace"),
        "people see who wrote what and which answer was accepted: {human}"
    );

    // Search finds both the thread and the lesson.
    let found = hits(&ada.json(&["search", "punched"]));
    assert!(
        found.contains(&(thread.clone(), "thread".into())),
        "search finds the thread: {found:?}"
    );
    assert!(
        found.contains(&(cards.clone(), "lesson".into())),
        "search finds the lesson: {found:?}"
    );
    assert!(
        !found.iter().any(|(d, _)| *d == bernoulli),
        "the other lesson does not mention cards: {found:?}"
    );
    let only_threads = hits(&ada.json(&["search", "punched", "--kind", "thread"]));
    assert!(
        !only_threads.is_empty() && only_threads.iter().all(|(_, k)| k == "thread"),
        "--kind narrows the search: {only_threads:?}"
    );

    // The thread's history lists every change with the author's name.
    let history = ada.json(&["history", &thread]);
    let entries = history.as_array().expect("history is a list");
    assert!(entries.len() >= 4, "open, reply, react, accept: {history}");
    assert!(
        entries.iter().all(|h| h["author"] == "Ada Lovelace"),
        "every change is attributed to Ada by name: {history}"
    );
    let human = ada.ok(&["history", &thread]).stdout;
    assert!(
        human.contains("Ada Lovelace"),
        "the human history names her: {human}"
    );

    // Export as Automerge and as JSON.
    let am = tmp.path().join("thread.automerge");
    let js = tmp.path().join("thread.json");
    let am_str = am.to_str().expect("utf-8 path");
    ada.json(&["export", &thread, "--output", am_str]);
    ada.ok(&[
        "export",
        &thread,
        "--format",
        "json",
        "-o",
        js.to_str().expect("utf-8 path"),
    ]);
    let exported: Value =
        serde_json::from_str(&std::fs::read_to_string(&js).expect("JSON export written"))
            .expect("the JSON export parses");
    assert!(
        exported.to_string().contains("one operation card per step"),
        "the JSON export holds the posts: {exported}"
    );
    assert!(
        !tmp.path().join("thread.automerge.partial").exists(),
        "no partial file is left behind"
    );

    // Grace, in her own fresh data dir, imports the file and sees the same posts.
    let grace = Cohort::fresh();
    grace.ok(&["init", "--name", "Grace Hopper"]);
    let imported = grace.json(&["import", am_str]);
    assert_eq!(
        imported["id"],
        thread.as_str(),
        "the import keeps the thread's id"
    );
    let there = grace.json(&["thread", "show", &thread]);
    assert_eq!(
        there["thread"]["posts"], view["thread"]["posts"],
        "the imported thread has exactly the same posts, reactions included"
    );
    assert_eq!(there["thread"]["accepted"], view["thread"]["accepted"]);
    grace.ok(&["check"]);

    // A journal entry is private: not in the cohort's search, until shared.
    let entry = ada.create(&[
        "journal",
        "add",
        "Doubts",
        "--body",
        "I still do not get the gears of the mill.",
    ]);
    let in_cohort = hits(&ada.json(&["search", "gears", "--space", "Engine Club"]));
    assert!(
        in_cohort.is_empty(),
        "the private entry is not in the cohort's search: {in_cohort:?}"
    );
    let everywhere = hits(&ada.json(&["search", "gears"]));
    assert!(
        everywhere.iter().any(|(d, _)| *d == entry),
        "Ada herself finds her entry: {everywhere:?}"
    );
    let copy = ada.create(&["journal", "share", &entry, "--space", "Engine Club"]);
    assert_ne!(copy, entry, "sharing makes a copy");
    let in_cohort = hits(&ada.json(&["search", "gears", "--space", "Engine Club"]));
    assert!(
        in_cohort.iter().any(|(d, _)| *d == copy),
        "the shared copy is found in the cohort: {in_cohort:?}"
    );
    assert!(
        !in_cohort.iter().any(|(d, _)| *d == entry),
        "the private original still is not: {in_cohort:?}"
    );
    let original = ada.json(&["journal", "show", &entry]);
    assert_eq!(
        original["shared_as"],
        copy.as_str(),
        "the entry remembers its copy"
    );
    let journal = ada.json(&["journal", "list"]);
    assert_eq!(
        journal.as_array().map(Vec::len),
        Some(1),
        "the journal lists only the private entry"
    );

    ada.ok(&["check"]);
}
