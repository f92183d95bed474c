//! Small networks of Linux network namespaces for tests, built with `ip` (iproute2) and torn
//! down however the test ends.
//!
//! Every namespace is named `cohort-t<pid>-<n>-<role>` (the test process's pid and a counter),
//! so parallel and aborted runs never collide; a [`Lab`] deletes its namespaces when dropped
//! (also when the test panics), and a new `Lab` first deletes namespaces left by processes
//! that are gone (a test killed by a timeout cannot run its destructors). Interfaces are
//! created directly inside their namespaces, so nothing is left in the host's.
//!
//! Link impairment: this kernel has no `sch_netem`, so loss and delay are built from what it
//! has: iptables drops a random share of forwarded packets (`-m statistic --mode random`)
//! and queues the rest (`-j NFQUEUE`) to a [`DelayLine`], a thread of the test that holds
//! each packet's verdict (nfnetlink_queue) for a fixed time before accepting it. Both run in
//! a router namespace, so the peers' own addresses and sockets are untouched.

use std::collections::VecDeque;
use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Prefix of every namespace these helpers create.
pub const PREFIX: &str = "cohort-t";

/// True (after printing why) when this process cannot build namespaces: not root, or no
/// `ip`. The only reason a namespace test may skip.
pub fn skip_without_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let ip = Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if root && ip {
        return false;
    }
    eprintln!("skipped: needs root + iproute2 (root: {root}, ip: {ip})");
    true
}

/// Runs `PROGRAM ARGS...`, panicking with its output unless it succeeds.
fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ip ARGS...`, which must succeed.
pub fn ip(args: &[&str]) {
    run("ip", args);
}

/// `ip netns exec NS ARGS...`, which must succeed.
pub fn exec_in(ns: &str, args: &[&str]) {
    let mut all = vec!["netns", "exec", ns];
    all.extend_from_slice(args);
    run("ip", &all);
}

/// Sets `/proc/sys/KEY` (e.g. `net/ipv4/ip_forward`) inside namespace `ns`.
pub fn sysctl(ns: &str, key: &str, value: &str) {
    exec_in(
        ns,
        &["sh", "-c", &format!("echo {value} > /proc/sys/{key}")],
    );
}

/// `iptables ARGS...` inside namespace `ns` (Debian's `iptables`: the nftables backend,
/// whose compatibility layer also carries the `statistic` match and `NFQUEUE` target).
pub fn iptables(ns: &str, args: &[&str]) {
    let has = Command::new("iptables")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has,
        "iptables is missing: install the Debian package iptables (scripts/test.sh does)"
    );
    let mut all = vec!["iptables"];
    all.extend_from_slice(args);
    exec_in(ns, &all);
}

/// Runs `f` on a new thread that has entered namespace `ns`: sockets it opens live there.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    enter_then(ns, f)
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Starts a thread that enters namespace `ns` (only that thread moves) and runs `f`.
fn enter_then<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = File::open(&path).unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("cannot enter {path}: {e}"));
        f()
    })
}

/// Kills every process still running in namespace `ns`, then deletes it.
fn kill_and_delete(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

/// Deletes namespaces with [`PREFIX`] whose creating test process is gone (killed before its
/// destructors ran), with whatever that test left running in them.
fn delete_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            kill_and_delete(name);
        }
    }
}

/// The namespaces of one test, deleted (with every interface in them) when dropped.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    namespaces: Vec<String>,
}

impl Lab {
    /// An empty lab with a name no other run uses (stale namespaces of dead runs are
    /// deleted first).
    pub fn new() -> Lab {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        delete_stale();
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        Lab {
            prefix: format!("{PREFIX}{}-{n}", std::process::id()),
            namespaces: Vec::new(),
        }
    }

    /// Creates namespace `<prefix>-<role>` with its loopback up, and returns its name.
    pub fn namespace(&mut self, role: &str) -> String {
        let name = format!("{}-{role}", self.prefix);
        ip(&["netns", "add", &name]);
        self.namespaces.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        name
    }

    /// A veth pair between `(namespace, interface)` ends, both up.
    pub fn veth(&self, a: (&str, &str), b: (&str, &str)) {
        ip(&[
            "link", "add", a.1, "netns", a.0, "type", "veth", "peer", "name", b.1, "netns", b.0,
        ]);
        ip(&["-n", a.0, "link", "set", a.1, "up"]);
        ip(&["-n", b.0, "link", "set", b.1, "up"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            kill_and_delete(ns);
        }
    }
}

/// Hosts on one LAN: each in its own namespace with `lan0` at `10.77.0.(10+i)/24`, all
/// plugged into a bridge in a switch namespace (multicast, so mDNS, crosses it).
#[derive(Debug)]
pub struct Lan {
    /// The hosts' namespaces.
    pub hosts: Vec<String>,
    /// The hosts' addresses.
    pub ips: Vec<String>,
    /// The switch's namespace.
    pub switch: String,
    /// Dropped last: deletes everything.
    pub lab: Lab,
}

impl Lan {
    /// A LAN of `n` hosts.
    pub fn new(n: usize) -> Lan {
        let mut lab = Lab::new();
        let switch = lab.namespace("sw");
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &switch, "link", "set", "br0", "up"]);
        let mut hosts = Vec::new();
        let mut ips = Vec::new();
        for i in 0..n {
            let host = lab.namespace(&format!("h{i}"));
            let port = format!("p{i}");
            lab.veth((&host, "lan0"), (&switch, &port));
            ip(&["-n", &switch, "link", "set", &port, "master", "br0"]);
            let addr = format!("10.77.0.{}", 10 + i);
            ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "lan0",
            ]);
            hosts.push(host);
            ips.push(addr);
        }
        Lan {
            hosts,
            ips,
            switch,
            lab,
        }
    }
}

/// Hosts each on their own subnet behind one router: host `i` in its own namespace with
/// `up0` at `10.77.(i+1).2/24`, the router's `to<i>` at `10.77.(i+1).1`, forwarding on.
#[derive(Debug)]
pub struct Routed {
    /// The hosts' namespaces.
    pub hosts: Vec<String>,
    /// The hosts' addresses.
    pub ips: Vec<String>,
    /// The router's namespace.
    pub router: String,
    /// Dropped last: deletes everything.
    pub lab: Lab,
}

impl Routed {
    /// `n` hosts behind one router.
    pub fn new(n: usize) -> Routed {
        let mut lab = Lab::new();
        let router = lab.namespace("rt");
        sysctl(&router, "net/ipv4/ip_forward", "1");
        let mut hosts = Vec::new();
        let mut ips = Vec::new();
        for i in 0..n {
            let host = lab.namespace(&format!("h{i}"));
            let port = format!("to{i}");
            lab.veth((&host, "up0"), (&router, &port));
            let net = format!("10.77.{}", i + 1);
            ip(&[
                "-n",
                &router,
                "addr",
                "add",
                &format!("{net}.1/24"),
                "dev",
                &port,
            ]);
            ip(&[
                "-n",
                &host,
                "addr",
                "add",
                &format!("{net}.2/24"),
                "dev",
                "up0",
            ]);
            ip(&[
                "-n",
                &host,
                "route",
                "add",
                "default",
                "via",
                &format!("{net}.1"),
            ]);
            hosts.push(host);
            ips.push(format!("{net}.2"));
        }
        Routed {
            hosts,
            ips,
            router,
            lab,
        }
    }

    /// Pulls host `i`'s cable out (its router port goes down): nothing reaches it or
    /// leaves it until [`Routed::reconnect`].
    pub fn disconnect(&self, i: usize) {
        ip(&["-n", &self.router, "link", "set", &format!("to{i}"), "down"]);
    }

    /// Plugs host `i` back in.
    pub fn reconnect(&self, i: usize) {
        ip(&["-n", &self.router, "link", "set", &format!("to{i}"), "up"]);
    }

    /// Makes every forwarded packet, in both directions, get lost with probability
    /// `loss_percent / 100` and otherwise arrive `delay` late (rules appended to the router's
    /// FORWARD chain: earlier rules still decide first). Lasts until the returned line is
    /// dropped (then forwarded packets are dropped: drop it after the nodes).
    pub fn impair(&self, loss_percent: u32, delay: Duration) -> DelayLine {
        const QUEUE: u16 = 7;
        let line = DelayLine::start(&self.router, QUEUE, delay);
        let probability = format!("{:.2}", f64::from(loss_percent) / 100.0);
        iptables(
            &self.router,
            &[
                "-A",
                "FORWARD",
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                &probability,
                "-j",
                "DROP",
            ],
        );
        iptables(
            &self.router,
            &[
                "-A",
                "FORWARD",
                "-j",
                "NFQUEUE",
                "--queue-num",
                &QUEUE.to_string(),
            ],
        );
        line
    }
}

// nfnetlink_queue (linux/netfilter/nfnetlink_queue.h): the netlink messages the delay line
// exchanges with the kernel.
const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_META: u8 = 1;
const NF_ACCEPT: u32 = 1;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One nfnetlink_queue message: netlink header, nfgenmsg (family unspecified, queue number
/// in network order), then attributes.
fn queue_message(kind: u16, flags: u16, queue: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | kind).to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&queue.to_be_bytes());
    for (kind, payload) in attrs {
        let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
        b.extend_from_slice(&len.to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(payload);
        b.resize(align4(b.len()), 0);
    }
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    b[..4].copy_from_slice(&len.to_ne_bytes());
    b
}

/// The netlink messages in `buf`: (type, payload after the 16-byte header).
fn messages(buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= buf.len() {
        let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if len < 16 || at + len > buf.len() {
            break;
        }
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        out.push((kind, &buf[at + 16..at + len]));
        at += align4(len);
    }
    out
}

/// The packet id of a queued-packet message's payload (nfgenmsg, then attributes).
fn packet_id(payload: &[u8]) -> Option<u32> {
    let mut at = 4;
    while at + 4 <= payload.len() {
        let len = u16::from_ne_bytes([payload[at], payload[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x3fff;
        if len < 4 || at + len > payload.len() {
            return None;
        }
        if kind == NFQA_PACKET_HDR && len >= 8 {
            let p = &payload[at + 4..at + 8];
            return Some(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
        }
        at += align4(len);
    }
    None
}

/// Holds every packet queued to an NFQUEUE for a fixed time, then lets it go on.
#[derive(Debug)]
pub struct DelayLine {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Packets delayed so far.
    pub delayed: Arc<AtomicUsize>,
}

impl DelayLine {
    /// Binds queue `queue` in namespace `ns` (before any rule sends packets to it) and starts
    /// holding each packet for `delay`.
    fn start(ns: &str, queue: u16, delay: Duration) -> DelayLine {
        let stop = Arc::new(AtomicBool::new(false));
        let delayed = Arc::new(AtomicUsize::new(0));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (stop2, delayed2) = (stop.clone(), delayed.clone());
        let thread = enter_then(ns, move || {
            let socket = bind_queue(queue);
            let _ = ready_tx.send(());
            hold_packets(&socket, queue, delay, &stop2, &delayed2);
        });
        if ready_rx.recv_timeout(Duration::from_secs(10)).is_err() {
            let result = thread.join();
            panic!("the delay line did not start: {result:?}");
        }
        DelayLine {
            stop,
            thread: Some(thread),
            delayed,
        }
    }
}

impl Drop for DelayLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A netlink socket bound to NFQUEUE `queue` of the calling thread's namespace, copying
/// packet metadata only.
fn bind_queue(queue: u16) -> OwnedFd {
    use nix::sys::socket::{
        AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, send,
        setsockopt, socket, sockopt,
    };
    use nix::sys::time::{TimeVal, TimeValLike};

    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::empty(),
        SockProtocol::NetlinkNetFilter,
    )
    .unwrap_or_else(|e| panic!("netlink socket: {e}"));
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).unwrap_or_else(|e| panic!("netlink bind: {e}"));
    setsockopt(&fd, sockopt::RcvBuf, &(4 << 20)).unwrap_or_else(|e| panic!("rcvbuf: {e}"));
    // Wake at least every millisecond to release packets that are due.
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::milliseconds(1))
        .unwrap_or_else(|e| panic!("receive timeout: {e}"));
    let bind_cmd = [NFQNL_CFG_CMD_BIND, 0, 0, 2];
    let mut params = 0u32.to_be_bytes().to_vec();
    params.push(NFQNL_COPY_META);
    for attrs in [
        vec![(NFQA_CFG_CMD, &bind_cmd[..])],
        vec![(NFQA_CFG_PARAMS, &params[..])],
    ] {
        let msg = queue_message(NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK, queue, &attrs);
        send(fd.as_raw_fd(), &msg, MsgFlags::empty())
            .unwrap_or_else(|e| panic!("netlink send: {e}"));
        let mut buf = [0u8; 1024];
        let deadline = Instant::now() + Duration::from_secs(5);
        let code = loop {
            assert!(Instant::now() < deadline, "no answer to the queue config");
            let Ok(n) = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) else {
                continue;
            };
            if let Some((_, payload)) = messages(&buf[..n])
                .into_iter()
                .find(|(kind, _)| *kind == NLMSG_ERROR)
            {
                let p = payload.get(..4).unwrap_or(&[0xff; 4]);
                break i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
            }
        };
        assert_eq!(
            code, 0,
            "the kernel refused the queue config (errno {code})"
        );
    }
    fd
}

/// Receives queued packets and accepts each `delay` after it arrived, until `stop`.
fn hold_packets(
    fd: &OwnedFd,
    queue: u16,
    delay: Duration,
    stop: &AtomicBool,
    delayed: &AtomicUsize,
) {
    use nix::sys::socket::{MsgFlags, recv, send};
    let mut held: VecDeque<(Instant, u32)> = VecDeque::new();
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        // An error is a timeout (nothing queued) or an overflowed socket buffer (those
        // packets stay in the kernel queue until it drops them: more loss, not a failure).
        if let Ok(n) = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            let now = Instant::now();
            for (kind, payload) in messages(&buf[..n]) {
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
                    && let Some(id) = packet_id(payload)
                {
                    held.push_back((now + delay, id));
                }
            }
        }
        let now = Instant::now();
        while held.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, id)) = held.pop_front() else {
                break;
            };
            let mut verdict = NF_ACCEPT.to_be_bytes().to_vec();
            verdict.extend_from_slice(&id.to_be_bytes());
            let msg = queue_message(
                NFQNL_MSG_VERDICT,
                NLM_F_REQUEST,
                queue,
                &[(NFQA_VERDICT_HDR, &verdict[..])],
            );
            if send(fd.as_raw_fd(), &msg, MsgFlags::empty()).is_ok() {
                delayed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// What a UDP echo probe saw: probes sent, echoes received, and the fastest round trip.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    /// Datagrams sent.
    pub sent: usize,
    /// Echoes received.
    pub received: usize,
    /// Fastest round trip.
    pub min_rtt: Option<Duration>,
}

/// Sends `count` UDP datagrams from namespace `from` to an echo server in namespace `to` at
/// `to_ip`, and reports what came back.
pub fn udp_probe(from: &str, to: &str, to_ip: &str, count: usize) -> Probe {
    let addr: SocketAddr = format!("{to_ip}:0")
        .parse()
        .unwrap_or_else(|e| panic!("{to_ip}: {e}"));
    let server = in_netns(to, move || {
        UdpSocket::bind(addr).unwrap_or_else(|e| panic!("echo bind: {e}"))
    });
    let server_addr = server
        .local_addr()
        .unwrap_or_else(|e| panic!("echo addr: {e}"));
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let echo = std::thread::spawn(move || {
        let _ = server.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 64];
        while !done2.load(Ordering::Relaxed) {
            if let Ok((n, peer)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&buf[..n], peer);
            }
        }
    });
    let probe = in_netns(from, move || {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap_or_else(|e| panic!("probe bind: {e}"));
        let _ = socket.set_read_timeout(Some(Duration::from_millis(5)));
        let start = Instant::now();
        let mut sent_at = Vec::with_capacity(count);
        let mut received = 0;
        let mut min_rtt: Option<Duration> = None;
        let mut buf = [0u8; 64];
        let mut last_send = start;
        while received < count && last_send.elapsed() < Duration::from_secs(1) {
            if sent_at.len() < count {
                let seq = u32::try_from(sent_at.len()).unwrap_or(u32::MAX);
                let _ = socket.send_to(&seq.to_be_bytes(), server_addr);
                sent_at.push(Instant::now());
                last_send = Instant::now();
            }
            if let Ok(n) = socket.recv(&mut buf)
                && n == 4
            {
                let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                if let Some(at) = sent_at.get(seq) {
                    received += 1;
                    let rtt = at.elapsed();
                    min_rtt = Some(min_rtt.map_or(rtt, |m| m.min(rtt)));
                }
            }
        }
        Probe {
            sent: sent_at.len(),
            received,
            min_rtt,
        }
    });
    done.store(true, Ordering::Relaxed);
    let _ = echo.join();
    probe
}
