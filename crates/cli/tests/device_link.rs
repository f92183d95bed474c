//! Real processes linking a person's devices: `cohort device link` on a running node,
//! `cohort device add` on new data dirs (alone, and through a running node), the personal
//! space reaching only the person's own devices while their cohort reaches all of them, and
//! a removed device receiving nothing new.

mod common;

use std::time::Duration;

use common::Cohort;
use common::node::{
    eventually, eventually_logged, init, list_titles, listen_addrs, log_of, serve, serve_plus, stop,
};
use serde_json::Value;

const SPACE: &str = "Night school";

fn journal(who: &Cohort) -> Vec<String> {
    list_titles(who, &["journal", "list"])
}

fn notes(who: &Cohort) -> Vec<String> {
    list_titles(who, &["note", "list", "--space", SPACE])
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} should be a string in {value}"))
}

/// How many devices `who`'s copy of the cohort's log gives the member called `name`.
fn devices_of(who: &Cohort, name: &str) -> Option<u64> {
    let run = who.run(&["--json", "member", "list", "--space", SPACE]);
    if run.code != Some(0) {
        return None;
    }
    run.json()
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
        .and_then(|m| m["devices"].as_u64())
}

/// The ids of every document in `space` of a stopped node's database.
fn docs_in_space(who: &Cohort, space: &str) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(who.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", who.db().display()));
    let mut stmt = conn
        .prepare("SELECT lower(hex(id)) FROM docs WHERE lower(hex(space)) = ?1")
        .unwrap_or_else(|e| panic!("query: {e}"));
    stmt.query_map([space], |r| r.get::<_, String>(0))
        .unwrap_or_else(|e| panic!("query: {e}"))
        .map(|r| r.unwrap_or_else(|e| panic!("row: {e}")))
        .collect()
}

/// Every document id in a stopped node's database.
fn all_docs(who: &Cohort) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(who.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("open {}: {e}", who.db().display()));
    let mut stmt = conn
        .prepare("SELECT lower(hex(id)) FROM docs")
        .unwrap_or_else(|e| panic!("query: {e}"));
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap_or_else(|e| panic!("query: {e}"))
        .map(|r| r.unwrap_or_else(|e| panic!("row: {e}")))
        .collect()
}

/// Story: Ada runs a cohort with Ben; both keep nodes running. Ada links her tablet with
/// `cohort device add` alone (a temporary node), then serves it, pointed at Ben's node too.
/// Her journal reaches the tablet, never Ben; Ben's cohort note reaches the tablet, and
/// Ben's node accepts the tablet as Ada's. What the tablet writes syncs back. A phone is
/// linked through its own running node. Then Ada removes the tablet, which receives nothing
/// new; Ben's database never held a document of Ada's personal space.
#[test]
#[allow(clippy::too_many_lines, reason = "one story, told in order")]
fn a_linked_device_shares_the_personal_space_with_its_person_only_and_a_removed_one_stops_receiving()
 {
    let ada = init("Ada");
    ada.ok(&["space", "new", SPACE]);
    let thread = ada.create(&[
        "thread",
        "new",
        "--space",
        SPACE,
        "Why green?",
        "--body",
        "Why not red?",
    ]);
    ada.ok(&[
        "journal",
        "add",
        "Dear diary",
        "--body",
        "Only mine: mitochondria",
    ]);
    let a = serve(&ada, "tcp");
    let invite = ada.json(&["invite", "create", "--space", SPACE]);
    let ben = init("Ben");
    let b = serve(&ben, "tcp");
    ben.json(&["join", text(&invite, "ticket")]);
    eventually("Ben is admitted and holds the thread", 30, || {
        list_titles(&ben, &["thread", "list"]) == vec!["Why green?"]
    });
    let ada_me = ada.json(&["me"]);
    let personal = text(&ada_me, "personal_space").to_owned();

    // A ticket from Ada's running node (forwarded to it); refusals for the wrong tickets.
    let link = ada.json(&["device", "link", "--expires", "10m"]);
    let ticket = text(&link, "ticket").to_owned();
    assert!(ticket.starts_with("cohort1"), "{link}");
    let wrong = Cohort::fresh();
    let run = wrong.run(&["--json", "device", "add", "cohort1notaticket"]);
    run.expect_code(4, "a damaged ticket is invalid input");
    let run = wrong.run(&["--json", "device", "add", text(&invite, "ticket")]);
    run.expect_code(4, "a cohort invite is not a device link");
    assert!(
        run.json_error()["message"]
            .as_str()
            .unwrap_or("")
            .contains("cohort join"),
        "the refusal says what to do: {}",
        run.stderr
    );
    let run = ben.run(&["--json", "device", "add", &ticket]);
    run.expect_code(
        4,
        "a data dir with its own cohort cannot become Ada's device",
    );

    // The tablet: a new data dir, no profile yet; `device add` runs a node until linked.
    let tablet = Cohort::fresh();
    let run = tablet.run(&[
        "--json", "device", "add", &ticket, "--name", "tablet", "--wait", "60",
    ]);
    assert_eq!(
        run.code,
        Some(0),
        "device add: {} {}\nAda's log:\n{}",
        run.stdout,
        run.stderr,
        log_of(&ada.dir)
    );
    let added = run.json();
    assert_eq!(added["linked"], true, "{added}");
    assert_eq!(added["journal_entries"], 1, "{added}");
    let tablet_me = tablet.json(&["me"]);
    assert_eq!(tablet_me["person"], ada_me["person"], "the tablet is Ada's");
    assert_eq!(tablet_me["display_name"], "Ada");
    assert_eq!(text(&tablet_me, "personal_space"), personal);
    assert_eq!(journal(&tablet), vec!["Dear diary"]);
    let tablet_id = text(&tablet_me, "device").to_owned();

    // A used ticket is refused with its reason, quickly.
    let late = Cohort::fresh();
    let run = late.run(&["--json", "device", "add", &ticket, "--wait", "30"]);
    assert_ne!(run.code, Some(0), "a used ticket links nobody");
    assert!(
        run.stderr.contains("already used"),
        "the refusal says why: {}",
        run.stderr
    );

    // The tablet serves, and knows Ben's node too.
    let ben_addr = listen_addrs(&ben)
        .pop()
        .unwrap_or_else(|| panic!("Ben's node prints its address:\n{}", log_of(&ben.dir)));
    let t = serve_plus(&tablet, "tcp", &["--peer", &ben_addr]);
    let nodes = [&ada, &ben, &tablet];
    eventually_logged("the tablet holds the cohort", 45, &nodes, || {
        list_titles(&tablet, &["thread", "list"]) == vec!["Why green?"]
    });
    eventually_logged(
        "Ben's copy of the cohort's log lists the tablet as Ada's",
        30,
        &nodes,
        || devices_of(&ben, "Ada") == Some(2),
    );
    eventually_logged(
        "Ben's node is connected to the tablet and names it as Ada's",
        30,
        &nodes,
        || {
            ben.json(&["peers"]).as_array().is_some_and(|p| {
                p.iter().any(|x| {
                    x["device"] == tablet_id.as_str()
                        && x["connected"] == true
                        && x["name"] == "Ada"
                })
            })
        },
    );

    // Journal from the laptop, note from Ben, both reach the tablet.
    ada.ok(&["journal", "add", "Second entry", "--body", "still private"]);
    ben.ok(&[
        "note",
        "new",
        "--space",
        SPACE,
        "Ben's note",
        "--body",
        "hi",
    ]);
    eventually_logged(
        "the laptop's journal and Ben's note reach the tablet",
        30,
        &nodes,
        || {
            journal(&tablet) == vec!["Dear diary", "Second entry"]
                && notes(&tablet) == vec!["Ben's note"]
        },
    );

    // The tablet writes: a journal entry, a cohort note, and an edit of Ada's own post.
    tablet.ok(&["journal", "add", "From the tablet", "--body", "sofa"]);
    tablet.ok(&[
        "note",
        "new",
        "--space",
        SPACE,
        "Tablet note",
        "--body",
        "hello",
    ]);
    tablet.ok(&["thread", "edit", &thread, "#1", "Why not red, really?"]);
    eventually_logged("the tablet's writing syncs back", 30, &nodes, || {
        journal(&ada) == vec!["Dear diary", "From the tablet", "Second entry"]
            && notes(&ada) == vec!["Ben's note", "Tablet note"]
            && notes(&ben) == vec!["Ben's note", "Tablet note"]
            && ben
                .json(&["thread", "show", &thread])
                .to_string()
                .contains("Why not red, really?")
    });
    assert!(journal(&ben).is_empty(), "Ben holds no journal at all");
    assert!(
        ben.json(&["search", "mitochondria"])
            .as_array()
            .is_some_and(Vec::is_empty),
        "Ada's journal text never reached Ben"
    );

    // A phone, through its own running node (the command goes to it).
    let phone_link = ada.json(&["device", "link"]);
    let phone = Cohort::fresh();
    let p = serve(&phone, "tcp");
    let pending = phone.json(&[
        "device",
        "add",
        text(&phone_link, "ticket"),
        "--name",
        "phone",
    ]);
    assert_eq!(pending["person"], ada_me["person"], "{pending}");
    eventually_logged("the phone's node links it", 45, &[&ada, &phone], || {
        phone.json(&["me"])["person"] == ada_me["person"] && journal(&phone).len() == 3
    });
    let devices = ada.json(&["device", "list"]);
    let names: Vec<&str> = devices
        .as_array()
        .map(|d| d.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names.len(), 3, "{devices}");
    assert!(
        names.contains(&"tablet") && names.contains(&"phone"),
        "{devices}"
    );
    assert_eq!(devices[0]["this_device"], true, "{devices}");
    stop(&phone, p);
    eventually_logged(
        "Ben's copy of the cohort's log lists Ada's three devices",
        30,
        &nodes,
        || devices_of(&ben, "Ada") == Some(3),
    );

    // Ada removes the tablet. Once Ben's copy of the log says so, nothing new reaches it.
    ada.ok(&["device", "remove", &tablet_id[..10]]);
    eventually_logged(
        "Ben's copy of the cohort's log drops the tablet",
        30,
        &nodes,
        || devices_of(&ben, "Ada") == Some(2),
    );
    ada.ok(&[
        "journal",
        "add",
        "After removal",
        "--body",
        "not for the tablet",
    ]);
    ben.ok(&[
        "note",
        "new",
        "--space",
        SPACE,
        "After removal",
        "--body",
        "nor this",
    ]);
    ada.ok(&["sync", "now"]);
    tablet.ok(&["sync", "now"]);
    eventually_logged("Ada holds Ben's new note", 30, &nodes, || {
        notes(&ada).contains(&"After removal".to_owned())
    });
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !journal(&tablet).contains(&"After removal".to_owned()),
        "a removed device receives no new journal entry"
    );
    assert!(
        !notes(&tablet).contains(&"After removal".to_owned()),
        "nor new cohort notes, from Ada or Ben"
    );
    let devices = ada.json(&["device", "list"]);
    assert!(
        devices
            .as_array()
            .is_some_and(|d| d.iter().all(|x| x["device"] != tablet_id.as_str())),
        "{devices}"
    );

    stop(&tablet, t);
    stop(&ben, b);
    stop(&ada, a);

    // Nothing of Ada's personal space ever reached Ben's data dir, nor was it ever named in
    // his node's log.
    let private = docs_in_space(&ada, &personal);
    assert!(private.len() >= 4, "Ada's personal space: {private:?}");
    let bens = all_docs(&ben);
    assert!(
        private.iter().all(|id| !bens.contains(id)),
        "no personal document id is in Ben's database"
    );
    assert!(
        docs_in_space(&ben, &personal).is_empty(),
        "Ben holds nothing of the personal space"
    );
    let log = log_of(&ben.dir);
    assert!(
        !log.contains(&personal) && !log.contains(&personal[..8]),
        "Ben's node never heard of Ada's personal space"
    );
}
