//! Deterministic simulation of many devices syncing over a hostile-ish network.
//!
//! Story: a handful of people, each with one or two devices, share a personal space between
//! their own devices and one to three cohort spaces with some of the others. Some second
//! devices are linked while everything runs: they present their ticket to their person's
//! devices, are admitted to the personal space and the person's cohorts, and some are
//! unlinked again later. While they edit (create documents, splice text, put keys), the
//! network delays frames randomly, drops whole connections, opens duplicate connections,
//! partitions and heals, and devices restart (losing the engine's memory, keeping what they
//! persisted). An outsider who believes it belongs to every space keeps dialing members and
//! presents forged tickets for every personal space. After the network heals and goes quiet:
//! - every device being linked was linked;
//! - every member of a space holds identical documents (same heads) for every document;
//! - no frame naming a space ever reached a device that was not a member when it was sent
//!   (checked on every delivery), so a personal space reached only its person's devices
//!   (a linked one only from its link on, an unlinked one never after), and the outsider
//!   saw nothing;
//! - nobody holds a document of a space they are not in;
//! - what each device persisted reloads to exactly what it holds in memory;
//! - no engine disconnected an honest peer or gave up on a document.

#[path = "sim/mod.rs"]
mod sim;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Instant;

use cohort_model::SpaceId;
use cohort_sync::DeviceId;
use cohort_sync::engine::{Config, Engine};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use sim::net::{Net, NetStats, Node};
use sim::{Links, MemStore, SimAuth, link_token};

struct Setup {
    devices: usize,
    /// Simulated milliseconds of chaos.
    chaos_ms: u64,
    /// Probability of an edit per 10 ms step.
    edit_rate: f64,
}

fn build(seed: u64, setup: &Setup) -> Net {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let n = setup.devices.max(3);
    // Persons own one or two devices; the last device is the outsider.
    let mut persons: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < n - 1 {
        let take = if i + 2 < n && rng.random_bool(0.5) {
            2
        } else {
            1
        };
        persons.push((i..i + take).collect());
        i += take;
    }
    let outsider = n - 1;
    let ids: Vec<DeviceId> = (0..n)
        .map(|d| {
            let mut b = [0u8; 32];
            b[..8].copy_from_slice(&(seed.wrapping_mul(1000) + d as u64).to_be_bytes());
            b[31] = d as u8;
            DeviceId(b)
        })
        .collect();
    let mut members: BTreeMap<SpaceId, BTreeSet<DeviceId>> = BTreeMap::new();
    let mut personal_of: Vec<SpaceId> = Vec::new();
    let mut space_no = 0u8;
    let mut next_space = || {
        space_no += 1;
        let mut b = [0u8; 16];
        b[0] = space_no;
        b[8..].copy_from_slice(&seed.to_be_bytes());
        SpaceId::from_bytes(b)
    };
    for p in &persons {
        let personal = next_space();
        personal_of.push(personal);
        members.insert(personal, p.iter().map(|d| ids[*d]).collect());
    }
    let outsider_space = next_space();
    members.insert(outsider_space, [ids[outsider]].into());
    if persons.len() >= 2 {
        for _ in 0..rng.random_range(1..=3) {
            let mut chosen: BTreeSet<DeviceId> = BTreeSet::new();
            let mut count = 0;
            for p in &persons {
                if rng.random_bool(0.6) {
                    chosen.extend(p.iter().map(|d| ids[*d]));
                    count += 1;
                }
            }
            if count < 2 {
                chosen.extend(persons[0].iter().chain(persons[1].iter()).map(|d| ids[*d]));
            }
            members.insert(next_space(), chosen);
        }
    }
    // Some second devices are linked only while the simulation runs: until their ticket is
    // redeemed they are members of nothing (but know which spaces to expect).
    let mut links = Links::default();
    let mut linking: BTreeMap<usize, (SpaceId, BTreeSet<SpaceId>)> = BTreeMap::new();
    for (p, devices) in persons.iter().enumerate() {
        if let &[_, second] = devices.as_slice()
            && rng.random_bool(0.5)
        {
            let id = ids[second];
            let spaces: BTreeSet<SpaceId> = members
                .iter()
                .filter(|(_, m)| m.contains(&id))
                .map(|(s, _)| *s)
                .collect();
            for s in &spaces {
                links.pending.insert((*s, id));
            }
            linking.insert(second, (personal_of[p], spaces));
        }
    }
    let links = Rc::new(std::cell::RefCell::new(links));
    let members = Rc::new(members);
    let nodes = (0..n)
        .map(|d| {
            let config = if rng.random_bool(0.3) {
                // Tight budgets: exercise backpressure and small batches.
                Config {
                    max_unsent: 2048,
                    batch_target: 512,
                    ..Config::default()
                }
            } else {
                Config::default()
            };
            let mut auth = SimAuth::new(ids[d], members.clone());
            auth.links = links.clone();
            if d == outsider {
                auth.claims = members
                    .keys()
                    .copied()
                    .filter(|s| *s != outsider_space)
                    .collect();
                // Forged tickets for every personal space: a copy of someone else's.
                for (p, personal) in personal_of.iter().enumerate() {
                    let victim = ids[persons[p][0]];
                    auth.requests
                        .insert(*personal, link_token(*personal, victim));
                }
            }
            if let Some((personal, spaces)) = linking.get(&d) {
                auth.joining = spaces.clone();
                auth.requests
                    .insert(*personal, link_token(*personal, ids[d]));
            }
            Node {
                id: ids[d],
                engine: Engine::new(config.clone()),
                // Half the devices keep documents sent whole unloaded until needed.
                store: if rng.random_bool(0.5) {
                    MemStore::keeping(ids[d])
                } else {
                    MemStore::new(ids[d])
                },
                auth,
                config,
                outsider: d == outsider,
                restarts: 0,
            }
        })
        .collect();
    Net::new(seed, members, links, nodes)
}

struct Outcome {
    stats: NetStats,
    fingerprint: Vec<String>,
}

fn run(seed: u64, setup: &Setup) -> Outcome {
    let mut net = build(seed, setup);
    let n = net.nodes.len();
    let outsider = n - 1;
    // Some documents before anyone connects.
    for _ in 0..n {
        net.random_edit();
    }
    net.connect_all();
    let step = 10;
    let mut t = 0;
    while t < setup.chaos_ms {
        let roll: f64 = net.rng.random();
        if roll < setup.edit_rate {
            net.random_edit();
        }
        let roll: f64 = net.rng.random();
        if roll < 0.04 {
            net.drop_random();
        } else if roll < 0.10 {
            // Reconnects, duplicate connections, and the outsider trying its luck.
            let a = net.rng.random_range(0..n);
            let b = net.rng.random_range(0..n);
            if a != b && (net.share_a_space(a, b) || a == outsider || b == outsider) {
                let delay = net.rng.random_range(1..50);
                net.dial_later(a, b, delay);
            }
        } else if roll < 0.11 {
            if net.partition.is_none() {
                net.partition_random();
            } else {
                net.partition = None;
            }
        } else if roll < 0.115 {
            net.unlink_random();
        } else if roll < 0.125 {
            let victim = net.rng.random_range(0..n);
            net.restart(victim);
            for other in 0..n {
                if other != victim && net.share_a_space(victim, other) && net.rng.random_bool(0.5) {
                    let delay = net.rng.random_range(5..100);
                    net.dial_later(victim, other, delay);
                }
            }
        }
        t += step;
        let until = net.now + step;
        assert!(
            net.run(Some(until), 5_000_000),
            "seed {seed}: livelock during chaos"
        );
    }
    // Heal: no more faults, everyone who shares a space connects afresh.
    net.partition = None;
    net.connect_all();
    for member in 0..outsider {
        net.dial_later(outsider, member, 2);
    }
    assert!(
        net.run(None, 20_000_000),
        "seed {seed}: no quiescence after healing"
    );
    assert!(
        !net.busy(),
        "seed {seed}: engines still have work after quiescence"
    );

    let mut problems = std::mem::take(&mut net.violations);
    problems.extend(net.unlinked_pending());
    problems.extend(net.divergence());
    problems.extend(net.leaked_docs());
    problems.extend(net.unpersisted());
    assert!(
        problems.is_empty(),
        "seed {seed}: members must converge and nothing may leak:\n{}",
        problems.join("\n")
    );
    let mut fingerprint = Vec::new();
    for s in net.members.clone().keys() {
        for (i, node) in net.nodes.iter_mut().enumerate() {
            fingerprint.push(format!("{i} {s:?} {:?}", node.store.heads_of(*s)));
        }
    }
    Outcome {
        stats: net.stats.clone(),
        fingerprint,
    }
}

#[test]
fn many_small_networks_converge_without_leaking() {
    let started = Instant::now();
    let setup_for = |seed: u64| Setup {
        devices: 3 + (seed % 6) as usize,
        chaos_ms: 1200,
        edit_rate: 0.3,
    };
    let mut total = NetStats::default();
    // More seeds on demand: SIM_SEEDS=2000 cargo test -p cohort-sync --test sim --release
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    for seed in 0..seeds {
        let out = run(seed, &setup_for(seed));
        total.frames += out.stats.frames;
        total.bytes += out.stats.bytes;
        total.connections += out.stats.connections;
        total.drops += out.stats.drops;
        total.restarts += out.stats.restarts;
        total.edits += out.stats.edits;
        total.refused += out.stats.refused;
        total.links += out.stats.links;
        total.unlinks += out.stats.unlinks;
        total.bad_redemptions += out.stats.bad_redemptions;
    }
    println!(
        "{seeds} seeds in {:?}: {} edits, {} connections, {} drops, {} restarts, {} refusals, {} devices linked, {} unlinked, {} forged tickets refused, {} frames, {} bytes",
        started.elapsed(),
        total.edits,
        total.connections,
        total.drops,
        total.restarts,
        total.refused,
        total.links,
        total.unlinks,
        total.bad_redemptions,
        total.frames,
        total.bytes
    );
    assert!(
        total.links > 0 && total.unlinks > 0,
        "devices must have been linked and unlinked while running"
    );
    assert!(
        total.bad_redemptions > 0,
        "the outsider's forged tickets must have been refused"
    );
    assert!(
        total.refused > 0,
        "the outsider must have been refused at least once"
    );
    assert!(
        total.restarts > 0 && total.drops > 0,
        "the faults must have happened"
    );
}

/// More and longer runs of large networks, on demand (`--ignored`).
#[test]
#[ignore = "a soak run (ten 20-device networks, ~30 s): run on demand with --ignored; the default sim tests cover the same properties on 100 smaller seeds"]
fn twenty_devices_converge_long() {
    for seed in 1001..1011 {
        let started = Instant::now();
        let out = run(
            seed,
            &Setup {
                devices: 20,
                chaos_ms: 4000,
                edit_rate: 0.6,
            },
        );
        println!(
            "seed {seed}, 20 devices, {:?}: {:?}",
            started.elapsed(),
            out.stats
        );
    }
}

#[test]
fn twenty_devices_converge() {
    let seed = 1000;
    let started = Instant::now();
    let out = run(
        seed,
        &Setup {
            devices: 20,
            chaos_ms: 1500,
            edit_rate: 0.6,
        },
    );
    println!(
        "seed {seed}, 20 devices, {:?}: {:?}",
        started.elapsed(),
        out.stats
    );
}

#[test]
fn a_seed_replays_identically() {
    let setup = Setup {
        devices: 5,
        chaos_ms: 300,
        edit_rate: 0.4,
    };
    let a = run(42, &setup);
    let b = run(42, &setup);
    assert_eq!(
        (a.stats.frames, a.stats.bytes, &a.fingerprint),
        (b.stats.frames, b.stats.bytes, &b.fingerprint),
        "the simulation must be deterministic so any failing seed can be replayed"
    );
}
