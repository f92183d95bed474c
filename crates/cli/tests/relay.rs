//! Syncing through an always-on peer that relays: real `cohort serve` processes in Linux
//! network namespaces (see `common::netns`). Ada and Ben sit on two subnets behind one
//! router that drops every packet between them (checked with a UDP probe); Rita's node, on a
//! third subnet, is reachable from both. Ada and Ben know only Rita's address (`--peer`);
//! Rita is not a member of their cohort, so whatever they share crosses her node only as
//! bytes of a relayed, end-to-end encrypted connection.
//!
//! Needs root (CI runs as root); without it, or without `ip`, each test prints
//! "skipped: needs root + iproute2" and returns.

mod common;

use std::time::{Duration, Instant};

use common::netns::{Routed, iptables, skip_without_root, udp_probe};
use common::node::{
    eventually_logged, init, listen_addrs, log_of, member_names, note_titles, serve_with, stop,
    sync_row,
};
use common::{Cohort, KillOnDrop, node};
use serde_json::Value;

const SPACE: &str = "Night walks";

/// A user whose commands and node run in namespace `ns`.
fn init_in(name: &str, ns: &str) -> Cohort {
    let who = init(name).in_netns(ns);
    who.ok(&["me"]);
    who
}

/// `cohort serve` on TCP and QUIC at `ip`, without mDNS, plus `extra`.
fn serve_on(who: &Cohort, ip: &str, extra: &[&str]) -> KillOnDrop {
    let mut args = common::node::listen_args("both", ip);
    args.push("--no-mdns".to_owned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serve_with(who, &args)
}

/// The PeerId at the end of a `/p2p/`-terminated address.
fn peer_id_of(addr: &str) -> String {
    addr.rsplit("/p2p/").next().unwrap_or_default().to_owned()
}

/// Ada (h0) and Ben (h1) cannot reach each other; Rita (h2) is reachable from both.
fn lab() -> Routed {
    let lab = Routed::new(3);
    for (from, to) in [("to0", "to1"), ("to1", "to0")] {
        iptables(
            &lab.router,
            &["-A", "FORWARD", "-i", from, "-o", to, "-j", "DROP"],
        );
    }
    let cut = udp_probe(&lab.hosts[0], &lab.hosts[1], &lab.ips[1], 20);
    assert_eq!(cut.received, 0, "Ada cannot reach Ben: {cut:?}");
    let cut = udp_probe(&lab.hosts[1], &lab.hosts[0], &lab.ips[0], 20);
    assert_eq!(cut.received, 0, "Ben cannot reach Ada: {cut:?}");
    for i in [0, 1] {
        let up = udp_probe(&lab.hosts[i], &lab.hosts[2], &lab.ips[2], 20);
        assert_eq!(up.received, up.sent, "host {i} reaches Rita: {up:?}");
    }
    lab
}

/// Rita's node, and the `--peer` arguments naming her TCP and QUIC addresses.
fn rita_node(rita: &Cohort, ip: &str, relay: bool) -> (KillOnDrop, Vec<String>) {
    let extra: &[&str] = if relay { &["--relay"] } else { &[] };
    let node = serve_on(rita, ip, extra);
    let addrs = listen_addrs(rita);
    assert_eq!(addrs.len(), 2, "Rita listens on TCP and QUIC: {addrs:?}");
    let peers = addrs
        .into_iter()
        .flat_map(|a| ["--peer".to_owned(), a])
        .collect();
    (node, peers)
}

fn serve_knowing(who: &Cohort, ip: &str, peers: &[String]) -> KillOnDrop {
    let extra: Vec<&str> = peers.iter().map(String::as_str).collect();
    serve_on(who, ip, &extra)
}

/// Whether `who`'s node logged a circuit address (a reservation on a relay) as one it
/// listens on since it last started.
fn listens_through_relay(who: &Cohort) -> bool {
    let log = log_of(&who.dir);
    let start = log.rfind("Cohort node serving").unwrap_or(0);
    log[start..]
        .lines()
        .any(|l| l.contains(" listening ") && l.contains("/p2p-circuit/"))
}

/// A new invite to the cohort: the ticket and the addresses it carries.
fn invite(who: &Cohort) -> (String, Vec<String>) {
    let invite = who.json(&["invite", "create", "--space", SPACE, "--uses", "1"]);
    let ticket = invite["ticket"].as_str().unwrap_or_default().to_owned();
    let addrs = invite["addrs"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    (ticket, addrs)
}

/// The address `who`'s `peers` shows for the connected peer named `name`.
fn connected_addr(who: &Cohort, name: &str) -> Option<String> {
    let peers = who.json(&["peers"]);
    peers.as_array().and_then(|p| {
        p.iter()
            .find(|x| x["name"] == name && x["connected"] == true)
            .and_then(|x| x["addr"].as_str().map(str::to_owned))
    })
}

fn write_note(who: &Cohort, title: &str, body: &str) {
    node::write_note(who, SPACE, title, body);
}

/// Whether both hold exactly the notes titled `titles` and are in sync with a peer.
fn both_hold(ada: &Cohort, ben: &Cohort, titles: &[&str]) -> bool {
    let mut want: Vec<String> = titles.iter().map(|t| (*t).to_owned()).collect();
    want.sort();
    [ada, ben].iter().all(|p| {
        note_titles(p, SPACE) == want && {
            let row = sync_row(p, SPACE);
            row["pending"] == 0 && row["peers"].as_u64().is_some_and(|n| n >= 1)
        }
    })
}

/// The lab, and Ada, Ben and Rita on its three hosts; Ada has made the cohort and written
/// a note in it.
fn story() -> (Routed, Cohort, Cohort, Cohort) {
    let lab = lab();
    let ada = init_in("Ada", &lab.hosts[0]);
    let ben = init_in("Ben", &lab.hosts[1]);
    let rita = init_in("Rita", &lab.hosts[2]);
    ada.ok(&["space", "new", SPACE]);
    write_note(&ada, "Owls", "a tawny owl calls from the churchyard");
    (lab, ada, ben, rita)
}

/// Story: Ada and Ben cannot reach each other, but both keep Rita's always-on node (run
/// with `--relay`) connected. Ada's node reserves a circuit on Rita and puts that circuit
/// address in her invite; Ben joins with it, and both write notes that reach the other,
/// over a connection both see as relayed, while Rita holds none of the cohort. When Rita's
/// node restarts, Ada's circuit address goes and comes back, and Ada and Ben reconnect
/// through her by themselves and go on syncing.
#[test]
fn members_who_cannot_reach_each_other_sync_through_a_relaying_peer() {
    if skip_without_root() {
        return;
    }
    let (lab, ada, ben, rita) = story();

    let started = Instant::now();
    let (r, rita_peer) = rita_node(&rita, &lab.ips[2], true);
    let rita_id = peer_id_of(&rita_peer[1]);
    let a = serve_knowing(&ada, &lab.ips[0], &rita_peer);
    let b = serve_knowing(&ben, &lab.ips[1], &rita_peer);
    let ada_id = peer_id_of(&listen_addrs(&ada)[0]);
    eventually_logged(
        "Ada's node listens through Rita's relay",
        30,
        &[&ada, &rita],
        || listens_through_relay(&ada),
    );
    eprintln!("relay: reserved {:?} after start", started.elapsed());

    let (ticket, addrs) = invite(&ada);
    let through_rita = format!("/p2p/{rita_id}/p2p-circuit/p2p/{ada_id}");
    assert!(
        addrs
            .iter()
            .any(|a| a.ends_with(&through_rita) && a.contains(&format!("/{}/", lab.ips[2]))),
        "the ticket carries Ada's circuit address through Rita: {addrs:?}"
    );
    let joined = ben.json(&["join", &ticket]);
    assert!(joined["space"].is_string(), "{joined}");
    let joining = Instant::now();
    eventually_logged(
        "Ben is admitted and holds Ada's note",
        60,
        &[&ada, &ben, &rita],
        || note_titles(&ben, SPACE) == vec!["Owls"],
    );
    eprintln!("relay: joined {:?} after the join", joining.elapsed());
    write_note(&ben, "Bats", "pipistrelles over the pond at dusk");
    write_note(&ada, "Moths", "an elephant hawk-moth at the lamp");
    eventually_logged(
        "both hold all three notes",
        60,
        &[&ada, &ben, &rita],
        || both_hold(&ada, &ben, &["Owls", "Bats", "Moths"]),
    );

    // The connection between them is the relayed one.
    let ben_at_ada = connected_addr(&ada, "Ben").unwrap_or_default();
    assert!(
        ben_at_ada.contains(&format!("/p2p/{rita_id}/p2p-circuit/p2p/")),
        "Ada reaches Ben through Rita: {ben_at_ada:?}"
    );
    let ada_at_ben = connected_addr(&ben, "Ada").unwrap_or_default();
    assert!(
        ada_at_ben.ends_with(&through_rita),
        "Ben reaches Ada through Rita: {ada_at_ben:?}"
    );
    assert!(
        log_of(&rita.dir).contains("relaying a circuit"),
        "Rita's node relayed the connection"
    );
    // Rita carried the cohort's bytes without holding any of it.
    assert_eq!(member_names(&ada, SPACE), vec!["Ada", "Ben"]);
    assert!(note_titles(&rita, SPACE).is_empty(), "Rita holds no note");
    let spaces = rita.json(&["space", "list"]);
    assert!(
        !spaces.to_string().contains(SPACE),
        "Rita is not in the cohort: {spaces}"
    );

    // Rita's node restarts (same ports): the circuit goes away and comes back.
    stop(&rita, r);
    eventually_logged(
        "Ada's circuit address expires with the relay",
        30,
        &[&ada],
        || {
            log_of(&ada.dir)
                .lines()
                .any(|l| l.contains("no longer listening") && l.contains("/p2p-circuit/"))
        },
    );
    write_note(
        &ada,
        "Hedgehog",
        "snuffling under the hedge while the relay was away",
    );
    let (r, _) = rita_node(&rita, &lab.ips[2], true);
    let restarted = Instant::now();
    write_note(&ben, "Fox", "a vixen crossing the lane");
    eventually_logged(
        "Ada and Ben reconnect through the restarted relay and converge",
        90,
        &[&ada, &ben, &rita],
        || both_hold(&ada, &ben, &["Owls", "Bats", "Moths", "Hedgehog", "Fox"]),
    );
    eprintln!(
        "relay: converged {:?} after the relay restarted",
        restarted.elapsed()
    );
    assert!(
        connected_addr(&ada, "Ben").is_some_and(|a| a.contains("/p2p-circuit/")),
        "still relayed"
    );
    stop(&ben, b);
    stop(&ada, a);
    stop(&rita, r);
}

/// Control: the same network, but Rita's node does not relay. Ada's invite carries only her
/// own (unreachable) addresses, Ben's join waits, and Ada's note never reaches him.
#[test]
fn without_a_relaying_peer_members_who_cannot_reach_each_other_never_sync() {
    if skip_without_root() {
        return;
    }
    let (lab, ada, ben, rita) = story();

    let (r, rita_peer) = rita_node(&rita, &lab.ips[2], false);
    let a = serve_knowing(&ada, &lab.ips[0], &rita_peer);
    let b = serve_knowing(&ben, &lab.ips[1], &rita_peer);
    let rita_device = rita.json(&["me"])["device"].clone();
    eventually_logged(
        "Ada and Ben are connected to Rita",
        20,
        &[&ada, &ben],
        || {
            [&ada, &ben].iter().all(|p| {
                p.json(&["peers"]).as_array().is_some_and(|peers| {
                    peers
                        .iter()
                        .any(|x| x["connected"] == true && x["device"] == rita_device)
                })
            })
        },
    );
    // Time for identify (it names the protocols a peer speaks) to have been exchanged.
    std::thread::sleep(Duration::from_secs(2));

    let (ticket, addrs) = invite(&ada);
    assert!(
        !addrs.iter().any(|a| a.contains("/p2p-circuit")),
        "no relay, no circuit address: {addrs:?}"
    );
    assert!(!addrs.is_empty(), "Ada's own addresses are in the ticket");
    let joined = ben.json(&["join", &ticket]);
    assert!(joined["space"].is_string(), "{joined}");
    std::thread::sleep(Duration::from_secs(15));
    assert!(
        note_titles(&ben, SPACE).is_empty(),
        "Ada's note cannot reach Ben"
    );
    let row: Value = sync_row(&ben, SPACE);
    assert!(
        row.is_null() || row["joining"].is_string(),
        "Ben is still waiting to be admitted: {row}"
    );
    assert_eq!(member_names(&ada, SPACE), vec!["Ada"]);
    assert!(!log_of(&rita.dir).contains("relaying a circuit"));
    stop(&ben, b);
    stop(&ada, a);
    stop(&rita, r);
}
