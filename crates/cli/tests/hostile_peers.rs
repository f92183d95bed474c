//! A real `cohort serve` node under attack by real libp2p endpoints on loopback, while an
//! honest member's node keeps syncing with it.
//!
//! The attackers are libp2p hosts built here (TCP, Noise, Yamux and the `/cohort/sync/1`
//! stream protocol, nothing else) that write whatever bytes they like: garbage, oversized
//! and truncated frames, floods of streams and connections, and well-formed sync frames
//! from a device that is not a member. For every attack the node must refuse (close the
//! stream or the connection; answer `Refused` where the protocol has it), say so in its log,
//! tell a non-member nothing (no document id ever reaches an attacker), keep serving the
//! member (a note written during or after the attack reaches it), and keep its store intact
//! (`cohort check` passes, and the data is there after a restart).
//!
//! Wire format (see `cohort_sync::protocol` and `cohort_net`): the stream carries net
//! frames, `u32` big-endian length then payload (at most 4 MiB); the payloads, concatenated,
//! carry sync frames, `u32` big-endian length then version (1), type, body.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Cohort;
use common::KillOnDrop;
use common::node::{eventually_logged, init, listen_addrs, log_of, note_titles, serve, stop};
use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Stream, StreamProtocol};
use tokio::runtime::Runtime;
use tokio::time::timeout;

const SPACE: &str = "Night school";
const SYNC: StreamProtocol = StreamProtocol::new("/cohort/sync/1");
/// The largest net frame a node accepts.
const MAX_FRAME: u32 = 4 * 1024 * 1024;
const WAIT: Duration = Duration::from_secs(20);

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

// ---------------------------------------------------------------------------- frames ---

/// One net frame around `payload`.
fn net_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// One sync frame of type `ty` with `body`.
fn sync_frame(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 2) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&[1, ty]);
    out.extend_from_slice(body);
    out
}

fn hello(space: [u8; 16]) -> Vec<u8> {
    let mut body = space.to_vec();
    body.extend_from_slice(&1u32.to_be_bytes());
    sync_frame(1, &body)
}

fn redeem(space: [u8; 16], request: &[u8]) -> Vec<u8> {
    let mut body = space.to_vec();
    body.extend_from_slice(&1u32.to_be_bytes());
    assert!(request.len() < 128, "a one-byte varint length");
    body.push(request.len() as u8);
    body.extend_from_slice(request);
    sync_frame(7, &body)
}

fn digest(space: [u8; 16]) -> Vec<u8> {
    let mut body = space.to_vec();
    body.extend_from_slice(&[0; 16]);
    body.push(0);
    sync_frame(4, &body)
}

/// A `SyncBatch` for `space` carrying one (not even valid) sync message for `doc`.
fn sync_batch(space: [u8; 16], doc: [u8; 16]) -> Vec<u8> {
    let mut body = space.to_vec();
    body.push(1);
    body.extend_from_slice(&doc);
    body.push(3);
    body.extend_from_slice(&[0x42, 0x01, 0x02]);
    sync_frame(6, &body)
}

/// Splits a byte stream into complete length-prefixed frames (a partial tail is ignored).
fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if bytes.len() < 4 + len {
            break;
        }
        out.push(bytes[4..4 + len].to_vec());
        bytes = &bytes[4 + len..];
    }
    out
}

/// The sync frames the node wrote to an attacker: `(type, body)` (types: 1 Hello,
/// 2 Welcome, 3 Refused, 4 Digest, 5 Summary, 6 SyncBatch, 7 Redeem).
fn sync_frames(received: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let payload: Vec<u8> = split_frames(received).concat();
    split_frames(&payload)
        .into_iter()
        .filter(|f| f.len() >= 2)
        .map(|f| (f[1], f[2..].to_vec()))
        .collect()
}

/// A space id nobody made: a different one on every call.
fn random_id() -> [u8; 16] {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let mut id = [0x5a; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

// -------------------------------------------------------------------------- attacker ---

/// A libp2p host that speaks only TCP + Noise + Yamux + `/cohort/sync/1`, and writes raw
/// bytes. Everything the node writes to it on sync streams is kept in `received`.
struct Attacker {
    peer: PeerId,
    device: [u8; 32],
    control: libp2p_stream::Control,
    received: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attacker {
    /// A new identity, and its device id (the Ed25519 public key).
    fn identity() -> (Keypair, [u8; 32]) {
        let keypair = Keypair::generate_ed25519();
        let device = keypair
            .public()
            .try_into_ed25519()
            .map(|k| k.to_bytes())
            .unwrap_or_else(|e| panic!("an Ed25519 key: {e}"));
        (keypair, device)
    }

    /// An identity whose device id sorts before (`smaller`) or after `node`'s. The device
    /// with the smaller id is the side that opens sessions; a node answers a `Hello` with
    /// `Refused` only when it is not that side (and treats one sent to it as the opening
    /// side as a protocol violation).
    fn identity_ordered(node: &[u8; 32], smaller: bool) -> (Keypair, [u8; 32]) {
        loop {
            let (keypair, device) = Self::identity();
            if (device < *node) == smaller {
                return (keypair, device);
            }
        }
    }

    async fn connect(keypair: Keypair, device: [u8; 32], addr: Multiaddr) -> TestResult<Self> {
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::default(),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )?
            .with_behaviour(|_| libp2p_stream::Behaviour::new())?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build();
        let peer = *swarm.local_peer_id();
        let mut control = swarm.behaviour().new_control();
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut incoming = control.accept(SYNC)?;
        let sink = received.clone();
        let reader = tokio::spawn(async move {
            while let Some((_, mut stream)) = incoming.next().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = stream.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        if let Ok(mut all) = sink.lock() {
                            all.extend_from_slice(&buf[..n]);
                        }
                    }
                });
            }
        });
        swarm.dial(addr)?;
        let closed = Arc::new(AtomicBool::new(false));
        timeout(WAIT, async {
            loop {
                match swarm.select_next_some().await {
                    SwarmEvent::ConnectionEstablished { .. } => return Ok(()),
                    SwarmEvent::OutgoingConnectionError { error, .. } => {
                        return Err(format!("attacker could not connect: {error}"));
                    }
                    _ => {}
                }
            }
        })
        .await
        .map_err(|_| "attacker did not connect in time")??;
        let down = closed.clone();
        let driver = tokio::spawn(async move {
            loop {
                if let SwarmEvent::ConnectionClosed {
                    num_established: 0, ..
                } = swarm.select_next_some().await
                {
                    down.store(true, Ordering::SeqCst);
                }
            }
        });
        Ok(Self {
            peer,
            device,
            control,
            received,
            closed,
            tasks: vec![reader, driver],
        })
    }

    async fn open(&mut self, node: PeerId) -> TestResult<Stream> {
        Ok(self.control.open_stream(node, SYNC).await?)
    }

    /// Opens a sync stream and writes `bytes` on it (leaving it open).
    async fn send(&mut self, node: PeerId, bytes: &[u8]) -> TestResult<Stream> {
        let mut stream = self.open(node).await?;
        stream.write_all(bytes).await?;
        stream.flush().await?;
        Ok(stream)
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The device id as the node's log shortens it.
    fn short(&self) -> String {
        hex(&self.device)[..8].to_owned()
    }

    /// Waits until the node closed the connection.
    async fn wait_closed(&self, what: &str) -> TestResult {
        timeout(WAIT + WAIT, async {
            while !self.closed.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .map_err(|_| format!("the node did not close the connection after {what}"))?;
        Ok(())
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Waits until `stream` is closed or reset by the other side.
async fn stream_ends(stream: &mut Stream, what: &str) -> TestResult {
    let mut buf = [0u8; 256];
    timeout(WAIT + WAIT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .map_err(|_| format!("the node kept the stream open after {what}"))?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    assert_eq!(text.len(), 2 * N, "{text:?} should be {N} bytes of hex");
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
            .unwrap_or_else(|e| panic!("{text:?} is not hex: {e}"));
    }
    out
}

// ------------------------------------------------------------------------------ site ---

/// Ada's node (the one attacked), with a cohort, and Ben's node, a member syncing with it.
struct Site {
    ada: Cohort,
    a: Option<KillOnDrop>,
    ben: Cohort,
    b: Option<KillOnDrop>,
    rt: Runtime,
    /// Ada's node: its PeerId, device id and TCP address.
    node: PeerId,
    node_device: [u8; 32],
    addr: Multiaddr,
    /// The cohort's space id.
    space: [u8; 16],
    written: Vec<String>,
}

impl Site {
    fn new() -> Site {
        let ada = init("Ada");
        ada.ok(&["space", "new", SPACE]);
        ada.ok(&["course", "new", "--space", SPACE, "Botany"]);
        ada.ok(&[
            "note", "new", "--space", SPACE, "Seeds", "--body", "keep dry",
        ]);
        let a = serve(&ada, "tcp");
        let ticket = common::node::ticket(&ada, SPACE, "1");
        let ben = init("Ben");
        let run = ben.run(&["--json", "join", &ticket, "--wait", "30"]);
        assert_eq!(run.code, Some(0), "join: {} {}", run.stdout, run.stderr);
        let b = serve(&ben, "tcp");

        let me = ada.json(&["me"]);
        let node_device = unhex::<32>(me["device"].as_str().unwrap_or_default());
        let addr: Multiaddr = listen_addrs(&ada)
            .into_iter()
            .find(|a| a.contains("/tcp/"))
            .unwrap_or_else(|| panic!("Ada's node prints a TCP address:\n{}", log_of(&ada.dir)))
            .parse()
            .unwrap_or_else(|e| panic!("a multiaddr: {e}"));
        let node = addr
            .iter()
            .find_map(|p| match p {
                Protocol::P2p(peer) => Some(peer),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{addr} ends in /p2p/"));
        let spaces = ada.json(&["space", "list"]);
        let space = spaces
            .as_array()
            .and_then(|s| s.iter().find(|v| v["name"] == SPACE))
            .and_then(|v| v["id"].as_str())
            .map(unhex::<16>)
            .unwrap_or_else(|| panic!("the cohort is listed: {spaces}"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let mut site = Site {
            ada,
            a: Some(a),
            ben,
            b: Some(b),
            rt,
            node,
            node_device,
            addr,
            space,
            written: vec!["Seeds".to_owned()],
        };
        site.member_receives("before any attack");
        site
    }

    /// Ada writes a note; Ben's node must receive it.
    fn member_receives(&mut self, when: &str) {
        let title = format!("Note {}: {when}", self.written.len());
        self.ada.ok(&[
            "note",
            "new",
            "--space",
            SPACE,
            &title,
            "--body",
            "for members",
        ]);
        self.written.push(title.clone());
        eventually_logged(
            &format!("Ben's node receives the note written {when}"),
            45,
            &[&self.ada, &self.ben],
            || note_titles(&self.ben, SPACE).contains(&title),
        );
    }

    /// Fails the test with `e`, showing Ada's log.
    fn fail(&self, e: impl std::fmt::Display) -> ! {
        panic!("{e}\n--- Ada's log ---\n{}", log_of(&self.ada.dir))
    }

    /// A new attacker connected to Ada's node.
    fn attacker(&self, smaller: Option<bool>) -> Attacker {
        let (keypair, device) = match smaller {
            Some(s) => Attacker::identity_ordered(&self.node_device, s),
            None => Attacker::identity(),
        };
        self.rt
            .block_on(Attacker::connect(keypair, device, self.addr.clone()))
            .unwrap_or_else(|e| panic!("attacker: {e}"))
    }

    /// Every document id Ada's store holds (read from its database, read-only).
    fn doc_ids(&self) -> Vec<[u8; 16]> {
        let conn = rusqlite::Connection::open_with_flags(
            self.ada.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .unwrap_or_else(|e| panic!("Ada's database opens: {e}"));
        let mut stmt = conn
            .prepare("SELECT id FROM docs")
            .unwrap_or_else(|e| panic!("query: {e}"));
        let ids: Vec<[u8; 16]> = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .unwrap_or_else(|e| panic!("query: {e}"))
            .filter_map(|r| r.ok())
            .filter_map(|v| <[u8; 16]>::try_from(v.as_slice()).ok())
            .collect();
        assert!(ids.len() >= 3, "Ada holds documents: {}", ids.len());
        ids
    }

    /// Asserts that nothing an attacker received holds a document id, and that every sync
    /// frame it got is a `Refused` (or a `Hello`/`Redeem` of no space it may read: none).
    fn learned_nothing(&self, who: &Attacker, what: &str) -> Vec<(u8, Vec<u8>)> {
        let received = who.received();
        for id in self.doc_ids() {
            assert!(
                !received.windows(16).any(|w| w == id),
                "{what}: the non-member received document id {}",
                hex(&id)
            );
        }
        let frames = sync_frames(&received);
        assert!(
            frames.iter().all(|(ty, _)| *ty == 3),
            "{what}: a non-member may only be told `Refused`, got types {:?}",
            frames.iter().map(|(t, _)| *t).collect::<Vec<_>>()
        );
        frames
    }

    /// Asserts that Ada's log has a line containing every one of `parts`.
    fn logged(&self, what: &str, parts: &[&str]) {
        let mut found = false;
        for _ in 0..50 {
            let log = log_of(&self.ada.dir);
            if log.lines().any(|l| parts.iter().all(|p| l.contains(p))) {
                found = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            found,
            "{what}: Ada's log should have a line with {parts:?}; log:\n{}",
            log_of(&self.ada.dir)
        );
    }

    /// The end of every story: the store is intact and everything is there after restarts.
    fn finish(mut self) {
        self.member_receives("after the attacks");
        // Strangers that came and went are not remembered (nor redialed): Ada's peers are
        // Ben alone.
        eventually_logged("Ada's peer list holds Ben alone", 20, &[&self.ada], || {
            let peers = self.ada.json(&["peers"]);
            peers
                .as_array()
                .is_some_and(|p| p.len() == 1 && p[0]["name"] == "Ben" && p[0]["connected"] == true)
        });
        if let Some(a) = self.a.take() {
            stop(&self.ada, a);
        }
        let check = self.ada.run(&["check"]);
        assert_eq!(
            check.code,
            Some(0),
            "Ada's store is intact: {} {}",
            check.stdout,
            check.stderr
        );
        let a = serve(&self.ada, "tcp");
        let mut expected = self.written.clone();
        expected.sort();
        assert_eq!(
            note_titles(&self.ada, SPACE),
            expected,
            "Ada's node holds every note after a restart"
        );
        self.member_receives("after Ada's node restarted");
        stop(&self.ada, a);
        if let Some(b) = self.b.take() {
            stop(&self.ben, b);
        }
        let check = self.ben.run(&["check"]);
        assert_eq!(
            check.code,
            Some(0),
            "Ben's store is intact: {}",
            check.stdout
        );
        let mut expected = self.written.clone();
        expected.sort();
        assert_eq!(note_titles(&self.ben, SPACE), expected);
    }
}

// ----------------------------------------------------------------------------- tests ---

/// Garbage, oversized length prefixes (net and sync layer) and frames that begin and then
/// stall: each closes the attacker's stream and connection, with a log line saying why.
#[test]
fn garbage_oversized_and_stalled_frames_are_refused_and_the_member_keeps_syncing() {
    let mut site = Site::new();
    let node = site.node;

    // (a) Garbage on the sync stream: its first four bytes read as a huge length.
    let mut mallory = site.attacker(None);
    let mut stream = site
        .rt
        .block_on(mallory.send(
            node,
            b"\xde\xad\xbe\xefGET / HTTP/1.1\r\nHost: cohort\r\n\r\n",
        ))
        .unwrap_or_else(|e| site.fail(e));
    site.rt
        .block_on(async {
            stream_ends(&mut stream, "garbage").await?;
            mallory.wait_closed("garbage").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "garbage",
        &[
            "a peer broke the stream protocol",
            &mallory.peer.to_string(),
            "exceeds the maximum",
        ],
    );
    site.learned_nothing(&mallory, "garbage");
    drop(mallory);

    // (a') Garbage inside a well-formed net frame: the sync layer cannot read it.
    let mut mallory = site.attacker(None);
    site.rt
        .block_on(async {
            let _stream = mallory
                .send(node, &net_frame(b"\x00\x00\x00\x05hello, node"))
                .await?;
            mallory.wait_closed("garbage in a frame").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "garbage in a frame",
        &[
            "closing a connection",
            &mallory.short(),
            "malformed frame (unsupported frame version 104)",
        ],
    );
    site.learned_nothing(&mallory, "garbage in a frame");
    drop(mallory);
    site.member_receives("after garbage");

    // (b) A net frame header announcing more than the maximum.
    let mut mallory = site.attacker(None);
    let mut stream = site
        .rt
        .block_on(mallory.send(node, &(MAX_FRAME + 1).to_be_bytes()))
        .unwrap_or_else(|e| site.fail(e));
    site.rt
        .block_on(async {
            stream_ends(&mut stream, "an oversized frame header").await?;
            mallory.wait_closed("an oversized frame header").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "oversized net frame",
        &[
            "a peer broke the stream protocol",
            &mallory.peer.to_string(),
            &format!(
                "frame length {} exceeds the maximum of {MAX_FRAME}",
                MAX_FRAME + 1
            ),
        ],
    );
    drop(mallory);

    // (b') A sync frame header announcing 4 GiB, inside a valid net frame.
    let mut mallory = site.attacker(None);
    site.rt
        .block_on(async {
            let _stream = mallory
                .send(node, &net_frame(&u32::MAX.to_be_bytes()))
                .await?;
            mallory.wait_closed("an oversized sync frame header").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "oversized sync frame",
        &[
            "closing a connection",
            &mallory.short(),
            "exceeds the maximum of 4194304",
        ],
    );
    site.learned_nothing(&mallory, "oversized sync frame");
    drop(mallory);
    site.member_receives("after oversized frames");

    // (e) Truncated frames that stall: a net frame announcing 1000 bytes of which 10 come,
    // and a sync frame of which half comes (in a complete net frame). Neither may hold its
    // stream, connection or buffer for ever; meanwhile the member is served.
    let mut stalled_net = site.attacker(None);
    let mut stalled_sync = site.attacker(None);
    let mut stream = site
        .rt
        .block_on(async {
            let mut header = 1000u32.to_be_bytes().to_vec();
            header.extend_from_slice(&[7; 10]);
            let stream = stalled_net.send(node, &header).await?;
            let half = &hello(site.space)[..12];
            let _ = stalled_sync.send(node, &net_frame(half)).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(stream)
        })
        .unwrap_or_else(|e| site.fail(e));
    site.member_receives("while two frames stall");
    site.rt
        .block_on(async {
            stream_ends(&mut stream, "a stalled frame").await?;
            stalled_net.wait_closed("a stalled net frame").await?;
            stalled_sync.wait_closed("a stalled sync frame").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "stalled net frame",
        &[
            "a peer broke the stream protocol",
            &stalled_net.peer.to_string(),
            "a frame stalled",
        ],
    );
    site.logged(
        "stalled sync frame",
        &[
            "closing a connection",
            &stalled_sync.short(),
            "left a frame unfinished",
        ],
    );
    site.learned_nothing(&stalled_net, "stalled net frame");
    site.learned_nothing(&stalled_sync, "stalled sync frame");
    drop(stalled_net);
    drop(stalled_sync);

    site.finish();
}

/// A device that is not a member asks for the cohort (by its real id, by a guessed id, with
/// a forged admission request, and by pushing sync frames without a session), and floods
/// the node with streams and connections. It is told `Refused` and nothing else, never a
/// document id; the member keeps syncing throughout.
#[test]
fn non_members_learn_nothing_and_floods_do_not_stop_the_member() {
    let mut site = Site::new();
    let node = site.node;
    let space = site.space;

    // (d) Hello for the cohort's space and for a guessed one, then a forged Redeem, from a
    // device on the answering side: each is refused, and the refusals look alike.
    let mut eve = site.attacker(Some(true));
    let guessed = random_id();
    site.rt
        .block_on(async {
            let mut bytes = net_frame(&hello(space));
            bytes.extend(net_frame(&hello(guessed)));
            let _stream = eve.send(node, &bytes).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .unwrap_or_else(|e| site.fail(e));
    let frames = site.learned_nothing(&eve, "hello from a non-member");
    let refused = |s: [u8; 16]| {
        let mut body = s.to_vec();
        body.push(1); // NotAuthorized
        (3u8, body)
    };
    assert_eq!(
        frames,
        vec![refused(space), refused(guessed)],
        "the real space and a guessed one are refused alike (NotAuthorized)"
    );
    site.logged(
        "hello from a non-member",
        &[
            "refused to sync a space with a device",
            &eve.short(),
            "NotAuthorized",
        ],
    );
    site.rt
        .block_on(async {
            let forged = br#"{"id":"00","kind":"invite_redeemed"}"#;
            let _stream = eve.send(node, &net_frame(&redeem(space, forged))).await?;
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .unwrap_or_else(|e| site.fail(e));
    let frames = site.learned_nothing(&eve, "a forged admission request");
    assert_eq!(frames.len(), 3, "one more refusal: {frames:?}");
    assert_eq!(
        frames[2].1[..16],
        space,
        "the refusal names the space asked for"
    );
    assert_ne!(frames[2].1[16], 0, "with a reason");
    assert!(
        !eve.closed.load(Ordering::SeqCst),
        "refusals keep the connection"
    );

    // Sync frames for the space without a session: a protocol violation, disconnected.
    let doc = site.doc_ids()[0];
    site.rt
        .block_on(async {
            let mut bytes = net_frame(&digest(space));
            bytes.extend(net_frame(&sync_batch(space, doc)));
            let _stream = eve.send(node, &bytes).await?;
            eve.wait_closed("sync frames without a session").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "sync frames without a session",
        &[
            "closing a connection",
            &eve.short(),
            "frame for a space without a session",
        ],
    );
    site.learned_nothing(&eve, "sync frames without a session");
    drop(eve);

    // Probing for space after space: a bounded number of answers per connection, then
    // the connection is closed; the log does not get a line per probe.
    let mut prober = site.attacker(Some(true));
    let probes: Vec<u8> = (0..40).flat_map(|_| hello(random_id())).collect();
    site.rt
        .block_on(async {
            let _stream = prober.send(node, &net_frame(&probes)).await?;
            prober.wait_closed("probing for spaces").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "probing for spaces",
        &[
            "closing a connection",
            &prober.short(),
            "too many refused requests",
        ],
    );
    let frames = site.learned_nothing(&prober, "probing for spaces");
    assert!(frames.len() <= 32, "{} refusals", frames.len());
    let lines = log_of(&site.ada.dir)
        .lines()
        .filter(|l| l.contains("refused to sync a space") && l.contains(&prober.short()))
        .count();
    assert!(lines <= 2, "{lines} log lines for one prober's refusals");
    drop(prober);

    // A non-member on the opening side sending Hello breaks the protocol: disconnected.
    let mut eve = site.attacker(Some(false));
    site.rt
        .block_on(async {
            let _stream = eve.send(node, &net_frame(&hello(space))).await?;
            eve.wait_closed("a hello from the opening side").await
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "a hello from the opening side",
        &[
            "closing a connection",
            &eve.short(),
            "hello sent to the dialer",
        ],
    );
    site.learned_nothing(&eve, "a hello from the opening side");
    drop(eve);
    site.member_receives("after non-members asked");

    // (c) Many streams at once from one device (on the answering side, so that its hellos
    // are merely refused): beyond the per-peer limit the node refuses streams and
    // disconnects it.
    let mut flood = site.attacker(Some(true));
    let streams = site
        .rt
        .block_on(async {
            let mut streams = Vec::new();
            for _ in 0..24 {
                // A stream may be reset on arrival (libp2p-stream drops one that comes
                // while the previous is being handed over): go on with the next.
                if let Ok(s) = flood.send(node, &net_frame(&hello(random_id()))).await {
                    streams.push(s);
                }
                if flood.closed.load(Ordering::SeqCst) {
                    break;
                }
            }
            flood.wait_closed("a flood of streams").await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(streams)
        })
        .unwrap_or_else(|e| site.fail(e));
    site.logged(
        "a flood of streams",
        &[
            "a peer broke the stream protocol",
            &flood.peer.to_string(),
            "concurrent inbound sync streams",
        ],
    );
    site.learned_nothing(&flood, "a flood of streams");
    drop(streams);
    drop(flood);

    // (c') Many connections at once, from many devices, each asking for a space; the member
    // is served while they are all connected.
    let addr = site.addr.clone();
    let crowd: Vec<Attacker> = site
        .rt
        .block_on(async {
            let joins: Vec<_> = (0..40)
                .map(|_| {
                    let (keypair, device) = Attacker::identity();
                    let addr = addr.clone();
                    tokio::spawn(async move {
                        let mut a = Attacker::connect(keypair, device, addr).await?;
                        let stream = a.send(node, &net_frame(&hello(random_id()))).await?;
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((a, stream))
                    })
                })
                .collect();
            let mut crowd = Vec::new();
            let mut streams = Vec::new();
            for join in joins {
                // A connection refused by a limit is fine; the node must not fall over.
                if let Ok(Ok((a, s))) = join.await {
                    crowd.push(a);
                    streams.push(s);
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(streams);
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(crowd)
        })
        .unwrap_or_else(|e| site.fail(e));
    assert!(
        crowd.len() >= 20,
        "most of the crowd connected: {}",
        crowd.len()
    );
    site.member_receives("while 40 strangers are connected");
    let distinct: BTreeSet<[u8; 32]> = crowd.iter().map(|a| a.device).collect();
    assert_eq!(distinct.len(), crowd.len());
    for a in &crowd {
        site.learned_nothing(a, "a crowd of strangers");
    }
    drop(crowd);

    site.finish();
}
