//! Real `cohort serve` processes on real networks of Linux network namespaces (built by the
//! tests with iproute2, see `common::netns`): peers on one LAN that find each other by mDNS
//! alone (and do not with `--no-mdns`), peers behind a router whose links lose 10 % of the
//! packets and delay the rest by 50 ms, and a peer cut off from the others and plugged back
//! in while every node keeps running.
//!
//! Needs root (CI runs as root); without it, or without `ip`, each test prints
//! "skipped: needs root + iproute2" and returns.
//!
//! In the routed tests Ada's node listens on TCP and QUIC, Ben's network lets only UDP
//! through (so he speaks QUIC) and Cy's only TCP: both transports are exercised, and Ben and
//! Cy, who can never reach each other, converge through Ada.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::netns::{Lan, Routed, iptables, skip_without_root, udp_probe};
use common::node::{
    connected_to_anyone, eventually_logged, init, log_of, note_titles, notes_of, peers_known,
    posts_of, run_logged, serve_with, space_content, stop, sync_row, ticket,
};
use common::{Cohort, KillOnDrop, node};
use serde_json::Value;

const SPACE: &str = "Field notes";

/// A user whose commands and node run in namespace `ns`.
fn init_in(name: &str, ns: &str) -> Cohort {
    let who = init(name).in_netns(ns);
    // The data dir was made outside; check the user works from inside.
    who.ok(&["me"]);
    who
}

/// `cohort serve` listening on `ip` over `transport` (`tcp`, `quic` or `both`), plus `extra`.
fn serve_on(who: &Cohort, transport: &str, ip: &str, extra: &[&str]) -> KillOnDrop {
    let mut args = common::node::listen_args(transport, ip);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serve_with(who, &args)
}

/// Removes the peer book from a stopped node's data dir: it knows no address of anyone.
fn forget_peers(who: &Cohort) {
    let db = rusqlite::Connection::open(who.db()).unwrap_or_else(|e| panic!("open db: {e}"));
    db.execute("DELETE FROM kv WHERE key = 'sync.peers'", [])
        .unwrap_or_else(|e| panic!("wipe the peer book: {e}"));
}

fn write_note(who: &Cohort, title: &str, body: &str) {
    node::write_note(who, SPACE, title, body);
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = items
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    v.sort();
    v
}

/// Whether every peer holds exactly the same notes and threads, the notes are `notes` and
/// the thread posts are `posts`, and every peer's sync status shows a connected peer and
/// nothing pending.
fn converged(peers: &[&Cohort], notes: &[(String, String)], posts: &[String]) -> bool {
    // Cheap first: the note titles.
    let titles: Vec<String> = notes.iter().map(|(t, _)| t.clone()).collect();
    if !peers.iter().all(|p| note_titles(p, SPACE) == titles) {
        return false;
    }
    let contents: Vec<Option<BTreeMap<String, Value>>> =
        peers.iter().map(|p| space_content(p, SPACE)).collect();
    let Some(Some(first)) = contents.first() else {
        return false;
    };
    if notes_of(first) != notes || posts_of(first) != posts {
        return false;
    }
    if !contents.iter().all(|c| c.as_ref() == Some(first)) {
        return false;
    }
    peers.iter().all(|p| {
        let row = sync_row(p, SPACE);
        row["pending"] == 0 && row["peers"].as_u64().is_some_and(|n| n >= 1)
    })
}

/// Story: Ada and Ben sit on the same LAN and share a cohort (Ben joined with a ticket), but
/// neither remembers where the other is. With `--no-mdns` their nodes never meet and each
/// keeps only its own note; with mDNS they find each other within seconds and both hold
/// both notes, word for word.
#[test]
fn peers_on_a_lan_find_each_other_by_mdns_and_not_without_it() {
    if skip_without_root() {
        return;
    }
    let lan = Lan::new(2);
    let ada = init_in("Ada", &lan.hosts[0]);
    let ben = init_in("Ben", &lan.hosts[1]);
    ada.ok(&["space", "new", SPACE]);

    // Ben joins through the LAN; then both forget every address they have seen.
    let a = serve_on(&ada, "both", "0.0.0.0", &["--no-mdns"]);
    let t = ticket(&ada, SPACE, "1");
    let run = run_logged(&ben, &["--json", "join", &t, "--wait", "30"]);
    assert_eq!(
        run.code,
        Some(0),
        "join: {}\n--- Ben's join:\n{}\n--- Ada's node:\n{}",
        run.stdout,
        run.stderr,
        log_of(&ada.dir)
    );
    stop(&ada, a);
    for who in [&ada, &ben] {
        forget_peers(who);
        assert_eq!(
            peers_known(who),
            0,
            "{} knows no peer now",
            who.dir.display()
        );
    }
    write_note(&ada, "From Ada", "moss grows on the north side");
    write_note(&ben, "From Ben", "lichen is two organisms");

    // Negative control: without mDNS nothing brings them together.
    let a = serve_on(&ada, "both", "0.0.0.0", &["--no-mdns"]);
    let b = serve_on(&ben, "both", "0.0.0.0", &["--no-mdns"]);
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !connected_to_anyone(&ada) && !connected_to_anyone(&ben),
        "with --no-mdns and no known address the nodes must not meet"
    );
    assert_eq!(note_titles(&ben, SPACE), vec!["From Ben"]);
    assert_eq!(note_titles(&ada, SPACE), vec!["From Ada"]);
    stop(&ada, a);
    stop(&ben, b);

    // With mDNS (the default) they find each other on the LAN.
    let started = Instant::now();
    let a = serve_on(&ada, "both", "0.0.0.0", &[]);
    let b = serve_on(&ben, "both", "0.0.0.0", &[]);
    let notes = pairs(&[
        ("From Ada", "moss grows on the north side"),
        ("From Ben", "lichen is two organisms"),
    ]);
    eventually_logged(
        "both nodes hold both notes after finding each other by mDNS",
        30,
        &[&ada, &ben],
        || converged(&[&ada, &ben], &notes, &[]),
    );
    eprintln!("mDNS: converged {:?} after start", started.elapsed());
    let peers = ada.json(&["peers"]);
    assert!(
        peers
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x["name"] == "Ben"
                && x["connected"] == true
                && x["addr"]
                    .as_str()
                    .is_some_and(|a| a.contains(&format!("/{}/", lan.ips[1]))))),
        "Ada is connected to Ben at his LAN address: {peers}"
    );
    assert!(
        log_of(&ben.dir).contains("found a device on the local network")
            || log_of(&ada.dir).contains("found a device on the local network"),
        "the meeting came from mDNS"
    );
    stop(&ada, a);
    stop(&ben, b);
}

/// Three people behind one router: Ada (TCP and QUIC), Ben (his network lets only UDP
/// through: QUIC), Cy (only TCP). `policy` sets the networks up in the router (before any
/// impairment, so its rules decide first).
struct Trio {
    ada: Cohort,
    ben: Cohort,
    cy: Cohort,
    nodes: Vec<KillOnDrop>,
}

fn policy(lab: &Routed) {
    for rule in [
        "-i to1 -p tcp -j REJECT --reject-with tcp-reset",
        "-o to1 -p tcp -j REJECT --reject-with tcp-reset",
        "-i to2 -p udp -j REJECT",
        "-o to2 -p udp -j REJECT",
    ] {
        let mut args = vec!["-A", "FORWARD"];
        args.extend(rule.split(' '));
        iptables(&lab.router, &args);
    }
}

/// Ada creates the cohort and serves; Ben and Cy serve and join with one ticket through
/// their running nodes; returns once all three see all three members.
fn trio(lab: &Routed) -> Trio {
    let ada = init_in("Ada", &lab.hosts[0]);
    let ben = init_in("Ben", &lab.hosts[1]);
    let cy = init_in("Cy", &lab.hosts[2]);
    ada.ok(&["space", "new", SPACE]);
    let a = serve_on(&ada, "both", &lab.ips[0], &["--no-mdns"]);
    let b = serve_on(&ben, "quic", &lab.ips[1], &["--no-mdns"]);
    let c = serve_on(&cy, "tcp", &lab.ips[2], &["--no-mdns"]);
    let t = ticket(&ada, SPACE, "2");
    for who in [&ben, &cy] {
        let joined = who.json(&["join", &t]);
        assert!(joined["space"].is_string(), "{joined}");
    }
    eventually_logged(
        "all three see three members",
        60,
        &[&ada, &ben, &cy],
        || {
            [&ada, &ben, &cy].iter().all(|p| {
                let run = p.run(&["--json", "member", "list", "--space", SPACE]);
                run.code == Some(0)
                    && run
                        .json()
                        .as_array()
                        .is_some_and(|m| m.iter().filter(|x| x["name"].is_string()).count() == 3)
            })
        },
    );
    Trio {
        ada,
        ben,
        cy,
        nodes: vec![a, b, c],
    }
}

/// Ada's view of her peers: Ben over QUIC, Cy over TCP, both connected.
fn assert_transports(ada: &Cohort) {
    let peers = ada.json(&["peers"]);
    let addr_of = |name: &str| {
        peers
            .as_array()
            .and_then(|p| {
                p.iter()
                    .find(|x| x["name"] == name && x["connected"] == true)
            })
            .and_then(|x| x["addr"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    assert!(
        addr_of("Ben").contains("/quic-v1"),
        "Ben is connected over QUIC: {peers}"
    );
    assert!(
        addr_of("Cy").contains("/tcp/"),
        "Cy is connected over TCP: {peers}"
    );
}

fn thread_id(who: &Cohort, title: &str, body: &str) -> String {
    who.create(&["thread", "new", "--space", SPACE, title, "--body", body])
}

/// Story: the router between Ada, Ben and Cy loses one packet in ten in each direction and
/// holds every other one for 50 ms (checked with a UDP echo first). They join, write notes
/// and reply to one question at the same time; every node ends up with the same notes and
/// thread, word for word, with nothing pending.
#[test]
fn edits_converge_over_links_that_lose_ten_percent_and_add_fifty_ms() {
    if skip_without_root() {
        return;
    }
    let lab = Routed::new(3);
    policy(&lab);
    let line = lab.impair(10, Duration::from_millis(50));
    let probe = udp_probe(&lab.hosts[0], &lab.hosts[1], &lab.ips[1], 200);
    eprintln!("impaired link: {probe:?}");
    let min_rtt = probe.min_rtt.unwrap_or_default();
    assert!(
        min_rtt >= Duration::from_millis(95),
        "every packet is delayed 50 ms each way: {probe:?}"
    );
    assert!(
        probe.received * 100 >= probe.sent * 65 && probe.received * 100 <= probe.sent * 95,
        "about one packet in ten is lost each way (0.9 x 0.9 of the echoes return): {probe:?}"
    );

    let started = Instant::now();
    let Trio {
        ada,
        ben,
        cy,
        nodes,
    } = trio(&lab);
    eprintln!("lossy: joined in {:?}", started.elapsed());
    let question = thread_id(&ada, "Which soil for ferns?", "asking for a friend");
    eventually_logged(
        "the question reaches Ben and Cy",
        60,
        &[&ada, &ben, &cy],
        || {
            [&ben, &cy]
                .iter()
                .all(|p| space_content(p, SPACE).is_some_and(|c| posts_of(&c).len() == 1))
        },
    );
    let edits = Instant::now();
    for (who, name) in [(&ada, "Ada"), (&ben, "Ben"), (&cy, "Cy")] {
        for i in 1..=2 {
            write_note(
                who,
                &format!("{name} {i}"),
                &format!("{name}'s observation number {i}, under a lossy sky"),
            );
        }
        who.ok(&[
            "thread",
            "reply",
            &question,
            &format!("{name} says: peat-free compost"),
        ]);
    }
    let mut expected = Vec::new();
    for name in ["Ada", "Ben", "Cy"] {
        for i in 1..=2 {
            expected.push((
                format!("{name} {i}"),
                format!("{name}'s observation number {i}, under a lossy sky"),
            ));
        }
    }
    expected.sort();
    let mut posts: Vec<String> = ["Ada", "Ben", "Cy"]
        .iter()
        .map(|n| format!("{n} says: peat-free compost"))
        .chain(["asking for a friend".to_owned()])
        .collect();
    posts.sort();
    eventually_logged(
        "all three converge to the same notes and thread under loss and delay",
        60,
        &[&ada, &ben, &cy],
        || converged(&[&ada, &ben, &cy], &expected, &posts),
    );
    eprintln!(
        "lossy: converged {:?} after the edits; {} packets went through the delay line",
        edits.elapsed(),
        line.delayed.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert_transports(&ada);
    let mut nodes = nodes;
    for (who, node) in [&cy, &ben, &ada].into_iter().zip(nodes.drain(..).rev()) {
        stop(who, node);
    }
    drop(line);
}

/// Story: Ada, Ben and Cy are in sync when Ada's cable is pulled. Every node notices (no
/// peer connected), and all three keep writing: notes and replies to the same question.
/// When the cable is back, without restarting anything, the nodes reconnect by themselves
/// and converge to the same content within a minute.
#[test]
fn a_partition_heals_and_concurrent_edits_converge_without_restarts() {
    if skip_without_root() {
        return;
    }
    let lab = Routed::new(3);
    policy(&lab);
    let Trio {
        ada,
        ben,
        cy,
        nodes,
    } = trio(&lab);
    let question = thread_id(&ada, "Best time to look for newts?", "dusk, I think");
    write_note(&ada, "Before", "written while everyone was connected");
    eventually_logged(
        "the note and the question reach Ben and Cy",
        30,
        &[&ada, &ben, &cy],
        || {
            [&ben, &cy].iter().all(|p| {
                note_titles(p, SPACE) == vec!["Before"]
                    && space_content(p, SPACE).is_some_and(|c| posts_of(&c).len() == 1)
            })
        },
    );
    assert_transports(&ada);

    lab.disconnect(0);
    let cut = Instant::now();
    for (who, name) in [(&ada, "Ada"), (&ben, "Ben"), (&cy, "Cy")] {
        write_note(
            who,
            &format!("{name} cut off"),
            &format!("{name} wrote this during the partition"),
        );
        who.ok(&["thread", "reply", &question, &format!("{name}: after rain")]);
    }
    eventually_logged(
        "every node notices it has lost its peers",
        60,
        &[&ada, &ben, &cy],
        || [&ada, &ben, &cy].iter().all(|p| !connected_to_anyone(p)),
    );
    eprintln!("partition: noticed {:?} after the cut", cut.elapsed());
    // More edits once the nodes know they are apart.
    write_note(&ada, "Ada alone", "still cut off");
    write_note(&cy, "Cy alone", "nobody hears me");
    // Let a few redials fail, so the reconnect backoff has grown when the link returns.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        note_titles(&ben, SPACE),
        vec!["Before", "Ben cut off"],
        "nothing crosses the partition"
    );

    lab.reconnect(0);
    let healed = Instant::now();
    let mut expected = vec![(
        "Before".to_owned(),
        "written while everyone was connected".to_owned(),
    )];
    for name in ["Ada", "Ben", "Cy"] {
        expected.push((
            format!("{name} cut off"),
            format!("{name} wrote this during the partition"),
        ));
    }
    expected.push(("Ada alone".to_owned(), "still cut off".to_owned()));
    expected.push(("Cy alone".to_owned(), "nobody hears me".to_owned()));
    expected.sort();
    let mut posts: Vec<String> = ["Ada", "Ben", "Cy"]
        .iter()
        .map(|n| format!("{n}: after rain"))
        .chain(["dusk, I think".to_owned()])
        .collect();
    posts.sort();
    eventually_logged(
        "all three reconnect and converge after the partition heals",
        60,
        &[&ada, &ben, &cy],
        || converged(&[&ada, &ben, &cy], &expected, &posts),
    );
    eprintln!(
        "partition: converged {:?} after the link came back",
        healed.elapsed()
    );
    assert_transports(&ada);
    let mut nodes = nodes;
    for (who, node) in [&cy, &ben, &ada].into_iter().zip(nodes.drain(..).rev()) {
        stop(who, node);
    }
}
