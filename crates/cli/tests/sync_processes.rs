//! Real processes syncing over real libp2p on loopback: `cohort serve` peers (TCP and QUIC)
//! joined by tickets, offline edits that converge when the peers meet again, a removed
//! member who stops receiving, and a peer killed with SIGKILL mid-sync that restarts and
//! converges with nothing lost.

mod common;

use std::time::Duration;

use common::node::{eventually, eventually_logged, init, serve, stop};
use common::{Cohort, node};
use serde_json::Value;

const SPACE: &str = "Night school";

fn note_titles(who: &Cohort) -> Vec<String> {
    node::note_titles(who, SPACE)
}

fn write_note(who: &Cohort, title: &str, body: &str) {
    node::write_note(who, SPACE, title, body);
}

fn ticket(ada: &Cohort, uses: &str) -> String {
    node::ticket(ada, SPACE, uses)
}

fn member_names(who: &Cohort) -> Vec<String> {
    node::member_names(who, SPACE)
}

/// Story: Ada runs a cohort on her always-on node. Ben joins by ticket through his own
/// running node (TCP), Cy joins with `cohort join` alone and then serves over QUIC. All
/// three go offline, each writes a note, and when their nodes start again everyone has all
/// three notes. Then Ada removes Cy: Ben still receives her next note, Cy does not.
#[test]
fn three_nodes_join_by_ticket_converge_after_offline_edits_and_a_removed_member_stops_receiving() {
    let ada = init("Ada");
    ada.ok(&["space", "new", SPACE]);
    ada.ok(&["course", "new", "--space", SPACE, "Botany"]);
    let a = serve(&ada, "tcp");
    let ticket = ticket(&ada, "2");
    assert!(ticket.starts_with("cohort1"), "{ticket}");

    // Ben: his node is running; `join` goes to it and his node does the rest.
    let ben = init("Ben");
    let b = serve(&ben, "tcp");
    let joined = ben.json(&["join", &ticket]);
    assert!(joined["space"].is_string(), "{joined}");
    eventually("Ben's node is admitted and holds the course", 30, || {
        let run = ben.run(&["--json", "course", "list"]);
        run.code == Some(0) && run.stdout.contains("Botany")
    });

    // Cy: no node running; `cohort join` runs one until admitted and in sync.
    let cy = init("Cy");
    let run = cy.run(&["--json", "join", &ticket, "--wait", "30"]);
    assert_eq!(
        run.code,
        Some(0),
        "cohort join: {} {}",
        run.stdout,
        run.stderr
    );
    let joined = run.json();
    assert_eq!(joined["name"], SPACE, "{joined}");
    assert!(cy.ok(&["course", "list"]).stdout.contains("Botany"));
    let c = serve(&cy, "quic");

    eventually("everyone sees three members with names", 30, || {
        [&ada, &ben, &cy]
            .iter()
            .all(|p| member_names(p) == vec!["Ada", "Ben", "Cy"])
    });
    // A used-up ticket is refused with a reason.
    let dee = init("Dee");
    let run = dee.run(&["join", &ticket, "--wait", "8"]);
    assert_ne!(run.code, Some(0), "a used-up ticket must not admit anyone");
    assert!(
        run.stderr.contains("already used") || run.stderr.contains("not admitted"),
        "the refusal says why: {}",
        run.stderr
    );

    // Everyone goes offline and writes.
    stop(&ada, a);
    stop(&ben, b);
    stop(&cy, c);
    for (who, title) in [
        (&ada, "Ada offline"),
        (&ben, "Ben offline"),
        (&cy, "Cy offline"),
    ] {
        write_note(who, title, "written offline");
    }
    let a = serve(&ada, "tcp");
    let b = serve(&ben, "tcp");
    let c = serve(&cy, "quic");
    let all = vec!["Ada offline", "Ben offline", "Cy offline"];
    eventually_logged(
        "the offline notes converge on all three nodes",
        45,
        &[&ada, &ben, &cy],
        || [&ada, &ben, &cy].iter().all(|p| note_titles(p) == all),
    );
    for who in [&ada, &ben, &cy] {
        let status = who.json(&["sync", "status"]);
        let cohort = status
            .as_array()
            .and_then(|s| s.iter().find(|v| v["name"] == SPACE))
            .cloned()
            .unwrap_or(Value::Null);
        assert!(
            cohort["last_sync"].is_number(),
            "sync status shows when the cohort last synced: {status}"
        );
    }
    let peers = ada.json(&["peers"]);
    assert!(
        peers.as_array().is_some_and(|p| p
            .iter()
            .any(|x| x["name"] == "Ben" && x["connected"] == true)),
        "Ada's peers list Ben by name, connected: {peers}"
    );

    // Ada removes Cy; her next note reaches Ben and not Cy.
    ada.ok(&["member", "remove", "--space", SPACE, "Cy"]);
    write_note(&ada, "After Cy left", "members only");
    eventually(
        "Ben receives the note written after the removal",
        30,
        || note_titles(&ben).contains(&"After Cy left".to_owned()),
    );
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !note_titles(&cy).contains(&"After Cy left".to_owned()),
        "a removed member receives nothing new"
    );
    stop(&ada, a);
    stop(&ben, b);
    stop(&cy, c);
}

/// Story: Ben joins a cohort that already holds 30 notes, through his running node and, on
/// a second data dir, with `cohort join --wait` alone. The notes arrive together, are kept
/// as sent once on disk and indexed afterwards: both end with every note listed and
/// found by search, nothing left to index, and an intact database.
#[test]
fn a_cohort_with_many_documents_is_indexed_after_it_arrives() {
    let ada = init("Ada");
    ada.ok(&["space", "new", SPACE]);
    for i in 0..30 {
        write_note(&ada, &format!("Note {i:02}"), "photosynthesis in leaves");
    }
    let a = serve(&ada, "tcp");
    let ticket = ticket(&ada, "2");

    let ben = init("Ben");
    let b = serve(&ben, "tcp");
    ben.json(&["join", &ticket]);
    eventually("Ben's node indexes all 30 notes", 30, || {
        note_titles(&ben).len() == 30
    });
    let status = ben.ok(&["sync", "status"]).stdout;
    assert!(!status.contains("indexing"), "{status}");
    let hits = ben.json(&["search", "photosynthesis", "--limit", "50"]);
    assert_eq!(hits.as_array().map(Vec::len), Some(30), "{hits}");
    stop(&ben, b);

    let cy = init("Cy");
    let run = cy.run(&["join", &ticket, "--wait", "30"]);
    assert_eq!(run.code, Some(0), "join: {}", run.stderr);
    assert_eq!(note_titles(&cy).len(), 30);
    let check = cy.run(&["check"]);
    assert_eq!(check.code, Some(0), "intact: {}", check.stdout);
    stop(&ada, a);
}

/// Story: Ben's node is killed with SIGKILL while Ada writes 40 notes that stream to it.
/// Restarted, it converges to all 40, and its database is intact.
#[test]
fn a_node_killed_mid_sync_restarts_and_converges() {
    let ada = init("Ada");
    ada.ok(&["space", "new", SPACE]);
    let a = serve(&ada, "tcp");
    let ticket = ticket(&ada, "1");
    let ben = init("Ben");
    let run = ben.run(&["join", &ticket, "--wait", "30"]);
    assert_eq!(run.code, Some(0), "join: {}", run.stderr);
    let mut b = serve(&ben, "tcp");

    // Ada writes 40 notes (each command goes to her running node); Ben's node is killed
    // while they stream to it.
    for i in 0..40 {
        write_note(&ada, &format!("Note {i:02}"), &"x".repeat(200));
        if i == 10 {
            b.sigkill();
        }
    }
    eventually("Ada holds all 40 notes", 30, || {
        note_titles(&ada).len() == 40
    });
    assert!(
        note_titles(&ben).len() < 40,
        "the killed node cannot have everything yet"
    );
    let b = serve(&ben, "tcp");
    eventually_logged(
        "Ben's restarted node converges to all 40 notes",
        45,
        &[&ada, &ben],
        || note_titles(&ben).len() == 40,
    );
    stop(&ben, b);
    let check = ben.run(&["check"]);
    assert_eq!(
        check.code,
        Some(0),
        "the database is intact: {}",
        check.stdout
    );
    stop(&ada, a);
}
