//! Two or more real nodes over 127.0.0.1 (TCP and QUIC): connection lifecycle, ordered
//! frames both ways, protocol violations, stream limits, backpressure, reconnect, and
//! connecting through a relay.

use std::time::Duration;

use cohort_net::{
    Backoff, Multiaddr, Net, NetConfig, NetError, NetEvent, NetHandle, PeerId, SYNC_PROTOCOL,
};
use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

/// Test helpers return errors instead of panicking on them.
type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const MAX_FRAME: usize = 256 * 1024;
const WAIT: Duration = Duration::from_secs(10);

fn tcp() -> TestResult<Multiaddr> {
    Ok("/ip4/127.0.0.1/tcp/0".parse()?)
}

fn quic() -> TestResult<Multiaddr> {
    Ok("/ip4/127.0.0.1/udp/0/quic-v1".parse()?)
}

fn config(seed: u8, listen: TestResult<Multiaddr>) -> TestResult<NetConfig> {
    let mut c = NetConfig::from_secret([seed; 32])?;
    c.listen = vec![listen?];
    c.mdns = false;
    c.max_frame = MAX_FRAME;
    c.backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        seed: u64::from(seed),
    };
    Ok(c)
}

async fn start(config: TestResult<NetConfig>) -> TestResult<(NetHandle, Receiver<NetEvent>)> {
    // Logs (captured per test) with e.g. RUST_LOG=cohort_net=debug.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Ok(Net::start(config?).await?)
}

/// The node's first listen address, with its `/p2p/` suffix.
async fn addr_of(net: &NetHandle) -> TestResult<Multiaddr> {
    let addrs = net.listen_addrs().await?;
    let addr = addrs.first().cloned().ok_or("no listen address")?;
    Ok(addr.with(Protocol::P2p(net.local_peer_id())))
}

/// Waits for the first event matching `pred`, skipping others.
async fn wait_for(
    rx: &mut Receiver<NetEvent>,
    what: &str,
    pred: impl Fn(&NetEvent) -> bool,
) -> TestResult<NetEvent> {
    let found = timeout(WAIT, async {
        while let Some(event) = rx.recv().await {
            if pred(&event) {
                return Some(event);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(format!("event channel closed waiting for {what}").into()),
        Err(_) => Err(format!("timed out waiting for {what}").into()),
    }
}

fn connected(peer: PeerId) -> impl Fn(&NetEvent) -> bool {
    move |e| matches!(e, NetEvent::PeerConnected { peer: p, .. } if *p == peer)
}

fn disconnected(peer: PeerId) -> impl Fn(&NetEvent) -> bool {
    move |e| matches!(e, NetEvent::PeerDisconnected { peer: p } if *p == peer)
}

/// Frame `i` of a test run: varying sizes, one exactly `MAX_FRAME`, index in the first bytes.
fn frame(i: u32) -> Vec<u8> {
    let len = if i == 500 {
        MAX_FRAME
    } else {
        4 + (i as usize * 7919) % 20_000
    };
    let mut f = vec![i as u8; len];
    f[..4].copy_from_slice(&i.to_be_bytes());
    f
}

/// Collects `n` frames from `from`, checking order and content.
async fn expect_frames(rx: &mut Receiver<NetEvent>, from: PeerId, n: u32) -> TestResult {
    let mut next = 0u32;
    let done = timeout(Duration::from_secs(30), async {
        while next < n {
            let Some(event) = rx.recv().await else {
                return;
            };
            match event {
                NetEvent::Frame { peer, bytes } if peer == from => {
                    assert_eq!(
                        bytes[..4.min(bytes.len())],
                        frame(next)[..4],
                        "frame {next} has the wrong index (len {})",
                        bytes.len()
                    );
                    assert_eq!(bytes, frame(next), "frame {next} differs");
                    next += 1;
                }
                NetEvent::ProtocolViolation { peer, reason } => {
                    panic!("unexpected violation from {peer}: {reason}")
                }
                _ => {}
            }
        }
    })
    .await;
    match done {
        Ok(()) if next == n => Ok(()),
        _ => Err(format!("only {next} of {n} frames arrived").into()),
    }
}

/// A and B each send the other frames `0..n` at once; each receives them all, in order.
async fn exchange(
    a: &NetHandle,
    a_rx: &mut Receiver<NetEvent>,
    b: &NetHandle,
    b_rx: &mut Receiver<NetEvent>,
    n: u32,
) -> TestResult {
    let send_all = |from: NetHandle, to: PeerId| {
        tokio::spawn(async move {
            for i in 0..n {
                from.send(to, frame(i)).await?;
            }
            Ok::<_, NetError>(())
        })
    };
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());
    let a_sends = send_all(a.clone(), b_id);
    let b_sends = send_all(b.clone(), a_id);
    let (at_b, at_a) = tokio::join!(expect_frames(b_rx, a_id, n), expect_frames(a_rx, b_id, n));
    at_b?;
    at_a?;
    a_sends.await??;
    b_sends.await??;
    Ok(())
}

async fn exchange_over(listen: fn() -> TestResult<Multiaddr>) -> TestResult {
    let (a, mut a_rx) = start(config(1, listen())).await?;
    let (b, mut b_rx) = start(config(2, listen())).await?;
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());

    assert!(matches!(
        a.send(b_id, vec![1]).await,
        Err(NetError::NotConnected(p)) if p == b_id
    ));
    let dialed = a.dial(addr_of(&b).await?).await?;
    assert_eq!(dialed, b_id);
    wait_for(&mut a_rx, "A sees B", connected(b_id)).await?;
    wait_for(&mut b_rx, "B sees A", connected(a_id)).await?;
    assert_eq!(a.connected_peers().await?, vec![b_id]);
    assert!(matches!(
        a.send(b_id, vec![0; MAX_FRAME + 1]).await,
        Err(NetError::FrameTooLarge { .. })
    ));

    exchange(&a, &mut a_rx, &b, &mut b_rx, 1000).await?;

    a.disconnect(b_id).await?;
    wait_for(&mut a_rx, "A loses B", disconnected(b_id)).await?;
    wait_for(&mut b_rx, "B loses A", disconnected(a_id)).await?;
    assert!(a.connected_peers().await?.is_empty());

    a.shutdown().await?;
    b.shutdown().await?;
    // Shut down twice is fine; other calls report Closed; the event channel ends.
    a.shutdown().await?;
    assert!(matches!(a.listen_addrs().await, Err(NetError::Closed)));
    timeout(WAIT, async { while a_rx.recv().await.is_some() {} })
        .await
        .map_err(|_| "event channel still open after shutdown")?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_nodes_exchange_ordered_frames_both_ways() -> TestResult {
    exchange_over(tcp).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_nodes_exchange_ordered_frames_both_ways() -> TestResult {
    exchange_over(quic).await
}

/// A bare libp2p node (TCP, Noise, Yamux, libp2p-stream) that can write raw bytes.
struct RawNode {
    control: libp2p_stream::Control,
    task: tokio::task::JoinHandle<()>,
}

impl RawNode {
    async fn connect(addr: Multiaddr) -> TestResult<Self> {
        let mut swarm = libp2p::SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(
                libp2p::tcp::Config::default(),
                libp2p::noise::Config::new,
                libp2p::yamux::Config::default,
            )?
            .with_behaviour(|_| libp2p_stream::Behaviour::new())?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let control = swarm.behaviour().new_control();
        swarm.dial(addr)?;
        timeout(WAIT, async {
            loop {
                if let SwarmEvent::ConnectionEstablished { .. } = swarm.select_next_some().await {
                    return;
                }
            }
        })
        .await
        .map_err(|_| "raw node did not connect")?;
        let task = tokio::spawn(async move {
            loop {
                swarm.select_next_some().await;
            }
        });
        Ok(Self { control, task })
    }

    async fn open(&mut self, peer: PeerId) -> TestResult<libp2p::Stream> {
        Ok(self.control.open_stream(peer, SYNC_PROTOCOL).await?)
    }
}

impl Drop for RawNode {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn raw_frame(bytes: &[u8]) -> Vec<u8> {
    let mut f = (bytes.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(bytes);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_length_prefix_closes_stream_and_node_keeps_serving() -> TestResult {
    let (a, mut a_rx) = start(config(11, tcp())).await?;
    let (b, mut b_rx) = start(config(12, tcp())).await?;
    let b_addr = addr_of(&b).await?;
    let b_id = b.local_peer_id();
    a.dial(b_addr.clone()).await?;
    wait_for(&mut a_rx, "A sees B", connected(b_id)).await?;
    // libp2p-stream hands inbound streams over one at a time and drops one that arrives
    // while the previous is still being handed over (A's writer would see it break and
    // reconnect). So B takes A's stream first: a frame from A arrives.
    let a_id = a.local_peer_id();
    a.send(b_id, frame(0)).await?;
    expect_frames(&mut b_rx, a_id, 1).await?;

    let mut raw = RawNode::connect(b_addr).await?;
    let mut stream = raw.open(b_id).await?;
    // B may close the stream as soon as it has read the prefix, so writing the rest can
    // fail: the violation B reports below is what shows the prefix arrived.
    let mut bytes = u32::MAX.to_be_bytes().to_vec();
    bytes.extend_from_slice(b"garbage after the prefix");
    let _ = stream.write_all(&bytes).await;
    let _ = stream.flush().await;

    let violation = wait_for(&mut b_rx, "violation", |e| {
        matches!(e, NetEvent::ProtocolViolation { .. })
    })
    .await?;
    let NetEvent::ProtocolViolation { peer, reason } = violation else {
        unreachable!()
    };
    assert_ne!(peer, a.local_peer_id());
    assert!(reason.contains("exceeds"), "{reason}");

    // The offending stream is closed: reading from it ends (EOF or reset).
    let mut buf = [0u8; 16];
    let read = timeout(WAIT, stream.read(&mut buf))
        .await
        .map_err(|_| "offending stream still open")?;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    // B still serves A.
    for i in 0..10 {
        a.send(b_id, frame(i)).await?;
    }
    expect_frames(&mut b_rx, a_id, 10).await?;
    assert!(b.connected_peers().await?.contains(&a_id));

    drop(raw);
    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_streams_per_peer_are_limited() -> TestResult {
    const LIMIT: usize = 4;
    const OPENED: usize = 12;
    let mut cfg = config(21, tcp())?;
    cfg.max_inbound_streams_per_peer = LIMIT;
    let (b, mut b_rx) = start(Ok(cfg)).await?;
    let b_id = b.local_peer_id();
    let mut raw = RawNode::connect(addr_of(&b).await?).await?;

    let mut streams = Vec::new();
    for i in 0..OPENED {
        let mut s = raw.open(b_id).await?;
        // A refused stream may already be reset: ignore write errors.
        let _ = s.write_all(&raw_frame(&[i as u8])).await;
        let _ = s.flush().await;
        streams.push(s);
    }

    // libp2p-stream itself may drop a stream that arrives while the previous one is still
    // being handed over; so: exactly LIMIT streams accepted, every other one refused
    // (reported as a violation) or dropped (never read).
    let (mut frames, mut violations) = (Vec::new(), 0);
    let mut collect = |event: NetEvent| match event {
        NetEvent::Frame { bytes, .. } => frames.push(bytes[0]),
        NetEvent::ProtocolViolation { reason, .. } => {
            assert!(reason.contains("inbound sync streams"), "{reason}");
            violations += 1;
        }
        _ => {}
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Ok(Some(event)) = tokio::time::timeout_at(
        deadline.min(tokio::time::Instant::now() + Duration::from_millis(500)),
        b_rx.recv(),
    )
    .await
    {
        collect(event);
    }
    frames.sort_unstable();
    frames.dedup();
    eprintln!("accepted {frames:?}, refused {violations}");
    assert_eq!(frames.len(), LIMIT, "accepted {frames:?}");
    assert!(
        (1..=OPENED - LIMIT).contains(&violations),
        "violations {violations}"
    );

    // The limit is on concurrent streams: closing an accepted one frees a slot.
    streams[0].close().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut again = raw.open(b_id).await?;
    again.write_all(&raw_frame(&[100])).await?;
    again.flush().await?;
    let got = wait_for(&mut b_rx, "frame on a freed slot", |e| {
        matches!(
            e,
            NetEvent::Frame { .. } | NetEvent::ProtocolViolation { .. }
        )
    })
    .await?;
    assert!(
        matches!(got, NetEvent::Frame { ref bytes, .. } if bytes == &[100]),
        "{got:?}"
    );

    drop(streams);
    drop(raw);
    b.shutdown().await?;
    Ok(())
}

/// A receiver whose application stops reading events holds back its sender: the sender's
/// queue fills and `send` waits, and what left the sender is bounded by the queue and the
/// receiver's stream window. The receiver first reads fast for a while, so that yamux
/// auto-tunes the window upwards: bounded by `NetConfig::max_connection_window`, it stays
/// small; with yamux's default limit (1 GiB) it grew to tens of MiB, all of which the
/// sender could then push into a receiver that had stopped reading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_receiver_makes_send_wait_without_growing_the_queue() -> TestResult {
    const QUEUE: usize = 8;
    const SIZE: usize = 64 * 1024;
    let mut a_cfg = config(31, tcp())?;
    a_cfg.outbound_queue = QUEUE;
    let mut b_cfg = config(32, tcp())?;
    b_cfg.event_queue = 4;
    let default_window = b_cfg.max_connection_window;
    assert!(
        default_window <= 32 * 1024 * 1024,
        "default window {default_window}"
    );
    // 16 streams of 256 KiB, and 1 MiB more a busy stream may grow into.
    b_cfg.max_yamux_streams = 16;
    b_cfg.max_connection_window = 16 * 256 * 1024 + 1024 * 1024;
    let stream_window = 256 * 1024 + 1024 * 1024;
    let (a, mut a_rx) = start(Ok(a_cfg)).await?;
    let (b, mut b_rx) = start(Ok(b_cfg)).await?;
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());
    a.dial(addr_of(&b).await?).await?;
    wait_for(&mut a_rx, "A sees B", connected(b_id)).await?;
    wait_for(&mut b_rx, "B sees A", connected(a_id)).await?;

    // B reads fast while A sends 64 MiB (yamux grows the stream's window as far as it may).
    const WARM: u32 = 1024;
    let drain = tokio::spawn(async move {
        let mut got = 0;
        while got < WARM {
            match b_rx.recv().await {
                Some(NetEvent::Frame { .. }) => got += 1,
                Some(_) => {}
                None => break,
            }
        }
        (b_rx, got)
    });
    for i in 0..WARM {
        a.send(b_id, vec![0u8; SIZE]).await?;
        if i % 256 == 255 {
            tokio::task::yield_now().await;
        }
    }
    let (mut b_rx, got) = timeout(Duration::from_secs(30), drain).await??;
    assert_eq!(got, WARM, "B read the warm-up frames");

    // B's application now stops reading its events.
    let mut sent = 0usize;
    let mut blocked = false;
    for i in 0..2_000u32 {
        let mut f = vec![0u8; SIZE];
        f[..4].copy_from_slice(&i.to_be_bytes());
        match timeout(Duration::from_secs(1), a.send(b_id, f)).await {
            Ok(result) => {
                result?;
                sent += 1;
            }
            Err(_) => {
                blocked = true;
                break;
            }
        }
    }
    assert!(blocked, "send never waited after {sent} frames");
    eprintln!("send waited after {sent} frames of {SIZE} bytes");
    let queued = a.queued_frames(b_id).await?;
    assert_eq!(queued, Some(QUEUE), "the queue is full, never larger");

    // Once B reads again, every frame A queued arrives, in order, none lost.
    let mut next = 0u32;
    let _ = timeout(Duration::from_secs(20), async {
        while (next as usize) < sent {
            let Some(event) = b_rx.recv().await else {
                return;
            };
            if let NetEvent::Frame { peer, bytes } = event {
                assert_eq!(peer, a_id);
                assert_eq!(bytes.len(), SIZE);
                assert_eq!(bytes[..4], next.to_be_bytes());
                next += 1;
            }
        }
    })
    .await;
    assert_eq!(next as usize, sent, "{next} of {sent} frames arrived");
    // Beyond A's queue and the batch its writer holds, only the sync stream's window at B
    // (whatever of it sits in socket buffers or in yamux's) and the few frames B's reader
    // took (one being read, four events) can have left A. Without the bound, yamux's
    // auto-tuned window let 100+ MiB through.
    let bound = stream_window + (2 * QUEUE + 8) * SIZE;
    assert!(
        sent * SIZE <= bound,
        "{sent} frames of {SIZE} bytes left A: more than {bound} bytes"
    );

    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_peer_is_reconnected_after_restart() -> TestResult {
    let (a, mut a_rx) = start(config(41, tcp())).await?;
    let (b, mut b_rx) = start(config(42, tcp())).await?;
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());
    let b_addr = addr_of(&b).await?;
    a.add_known_peer(b_id, b_addr.clone()).await?;
    wait_for(&mut a_rx, "A sees B", connected(b_id)).await?;
    wait_for(&mut b_rx, "B sees A", connected(a_id)).await?;

    b.shutdown().await?;
    drop(b_rx);
    wait_for(&mut a_rx, "A loses B", disconnected(b_id)).await?;
    // Let a few redials fail while B is away.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let mut b_cfg = config(42, tcp())?;
    b_cfg.listen = vec![without_p2p(&b_addr)];
    let restarted = std::time::Instant::now();
    let (b2, mut b2_rx) = start(Ok(b_cfg)).await?;
    assert_eq!(b2.local_peer_id(), b_id);
    timeout(
        Duration::from_secs(5),
        wait_for(&mut a_rx, "A reconnects", connected(b_id)),
    )
    .await
    .map_err(|_| "A did not reconnect by itself within 5 s")??;
    eprintln!("reconnected {:?} after restart", restarted.elapsed());

    wait_for(&mut b2_rx, "B2 sees A", connected(a_id)).await?;
    a.send(b_id, frame(0)).await?;
    expect_frames(&mut b2_rx, a_id, 1).await?;

    a.shutdown().await?;
    b2.shutdown().await?;
    Ok(())
}

/// A TCP proxy on 127.0.0.1 to `target`; dropping the returned task handle's tasks (by
/// aborting it) cuts every connection made through it.
async fn tcp_proxy(
    target: std::net::SocketAddr,
) -> TestResult<(Multiaddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let mut pipes = tokio::task::JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            pipes.spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    Ok((format!("/ip4/127.0.0.1/tcp/{port}").parse()?, task))
}

fn socket_addr(addr: &Multiaddr) -> TestResult<std::net::SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(a),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Ok((ip.ok_or("no ip4")?, port.ok_or("no tcp port")?).into())
}

/// Two connections between a pair (as when both dial at once); the one carrying the sync
/// streams is cut while the other stays up. Frames on the cut streams may be lost, so the
/// node must report the peer as disconnected (sessions start afresh) and reconnect, rather
/// than carry on over the surviving connection as if nothing were lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_sync_stream_is_a_disconnect_even_with_another_connection_up() -> TestResult {
    let (a, mut a_rx) = start(config(51, tcp())).await?;
    let (b, mut b_rx) = start(config(52, tcp())).await?;
    let (a_id, b_id) = (a.local_peer_id(), b.local_peer_id());
    let b_addr = addr_of(&b).await?;
    let (proxied, proxy) = tcp_proxy(socket_addr(&b_addr)?).await?;

    // First connection through the proxy: both sync streams open on it.
    a.add_known_peer(b_id, proxied.with(Protocol::P2p(b_id)))
        .await?;
    wait_for(&mut a_rx, "A sees B", connected(b_id)).await?;
    wait_for(&mut b_rx, "B sees A", connected(a_id)).await?;
    a.send(b_id, frame(0)).await?;
    expect_frames(&mut b_rx, a_id, 1).await?;
    b.send(a_id, frame(0)).await?;
    expect_frames(&mut a_rx, b_id, 1).await?;

    // A second, direct connection.
    a.dial(b_addr.clone()).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Cut the proxied one: both streams die, the direct connection stays.
    proxy.abort();
    wait_for(&mut a_rx, "A reports B disconnected", disconnected(b_id)).await?;
    wait_for(&mut b_rx, "B reports A disconnected", disconnected(a_id)).await?;
    // A still wants B: it redials (through the dead proxy and the direct address it
    // learned) and both sides start again with fresh streams.
    a.add_known_peer(b_id, b_addr.clone()).await?;
    wait_for(&mut a_rx, "A reconnects", connected(b_id)).await?;
    wait_for(&mut b_rx, "B sees A again", connected(a_id)).await?;
    exchange(&a, &mut a_rx, &b, &mut b_rx, 5).await?;

    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

fn without_p2p(addr: &Multiaddr) -> Multiaddr {
    addr.iter()
        .filter(|p| !matches!(p, Protocol::P2p(_)))
        .collect()
}

fn is_circuit(addr: &Multiaddr) -> bool {
    addr.iter().any(|p| matches!(p, Protocol::P2pCircuit))
}

/// A relay server R and two nodes that know only R. A reserves a circuit on R and reports
/// its circuit address (`<R's address>/p2p/R/p2p-circuit/p2p/A`); B, given nothing but that
/// address, connects to A through R; both see the connection as relayed, with an address
/// they can dial back through R; frames flow both ways far beyond libp2p's default 128 KiB
/// per circuit; when R stops, A's circuit address expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_reach_each_other_through_a_relay() -> TestResult {
    let mut r_cfg = config(51, tcp())?;
    r_cfg.relay_server = true;
    let (r, _r_rx) = start(Ok(r_cfg)).await?;
    let (a, mut a_rx) = start(config(52, tcp())).await?;
    let (b, mut b_rx) = start(config(53, tcp())).await?;
    let (r_id, a_id, b_id) = (r.local_peer_id(), a.local_peer_id(), b.local_peer_id());
    let r_addr = addr_of(&r).await?;
    a.add_known_peer(r_id, r_addr.clone()).await?;
    b.add_known_peer(r_id, r_addr.clone()).await?;

    let event = wait_for(
        &mut a_rx,
        "A's circuit address",
        |e| matches!(e, NetEvent::ListenAddr(addr) if is_circuit(addr)),
    )
    .await?;
    let NetEvent::ListenAddr(circuit) = event else {
        return Err("not a listen address".into());
    };
    let expected: Multiaddr = format!("{r_addr}/p2p-circuit/p2p/{a_id}").parse()?;
    assert_eq!(circuit, expected, "A's circuit address goes through R");
    assert!(a.listen_addrs().await?.contains(&circuit));

    // B dials through its connection to R. libp2p's relay client refuses a circuit dial made
    // while a dial to the relay itself is still under way (the relay is dialed only if not
    // already being dialed), so B's connection to R must be up first.
    wait_for(&mut b_rx, "B connected to R", connected(r_id)).await?;
    assert_eq!(b.dial(circuit.clone()).await?, a_id);
    let at_b = wait_for(&mut b_rx, "B sees A", connected(a_id)).await?;
    let at_a = wait_for(&mut a_rx, "A sees B", connected(b_id)).await?;
    let (
        NetEvent::PeerConnected { addr: a_seen, .. },
        NetEvent::PeerConnected { addr: b_seen, .. },
    ) = (at_b, at_a)
    else {
        return Err("not a connection".into());
    };
    assert_eq!(a_seen, circuit, "B reached A at A's circuit address");
    let b_circuit: Multiaddr = format!("{r_addr}/p2p-circuit/p2p/{b_id}").parse()?;
    assert_eq!(b_seen, b_circuit, "A can dial B back through R");

    // 600 frames each way, about 6 MB: a circuit with libp2p's default limits would be cut
    // after 128 KiB.
    exchange(&a, &mut a_rx, &b, &mut b_rx, 600).await?;

    r.shutdown().await?;
    wait_for(
        &mut a_rx,
        "A's circuit address expires",
        |e| matches!(e, NetEvent::ListenAddrExpired(addr) if *addr == circuit),
    )
    .await?;
    assert!(!a.listen_addrs().await?.contains(&circuit));

    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

/// A node that is not a relay server is never asked for a reservation: no circuit address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_circuit_address_without_a_relay_server() -> TestResult {
    let (r, _r_rx) = start(config(54, tcp())).await?;
    let (a, mut a_rx) = start(config(55, tcp())).await?;
    let r_id = r.local_peer_id();
    a.add_known_peer(r_id, addr_of(&r).await?).await?;
    wait_for(&mut a_rx, "A sees R", connected(r_id)).await?;
    let circuit = timeout(
        Duration::from_secs(3),
        wait_for(
            &mut a_rx,
            "a circuit address",
            |e| matches!(e, NetEvent::ListenAddr(addr) if is_circuit(addr)),
        ),
    )
    .await;
    assert!(
        !matches!(circuit, Ok(Ok(_))),
        "no circuit through a node that does not relay"
    );
    assert!(!a.listen_addrs().await?.iter().any(is_circuit));
    a.shutdown().await?;
    r.shutdown().await?;
    Ok(())
}
