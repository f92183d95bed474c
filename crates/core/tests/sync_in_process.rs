//! Two (and three) data dirs syncing through the core's sync engine over an in-memory pipe:
//! a member receives the cohort's documents and their search index, edits flow both ways,
//! and neither a non-member nor anyone else ever receives the personal space; a linked
//! device receives its person's personal space and cohorts, and nothing new once removed.

use std::collections::{BTreeSet, VecDeque};

use cohort_core::{ConnId, Core, EngineEffect, EngineEvent, SyncNoticeKind};
use cohort_model::{DocKind, Role, SpaceId, ThreadKind};
use cohort_sync::protocol;

/// An in-memory network of cores with reliable, ordered connections.
struct Net {
    cores: Vec<Core>,
    /// (core, conn) <-> (core, conn)
    links: Vec<((usize, ConnId), (usize, ConnId))>,
    queue: VecDeque<(usize, EngineEvent)>,
    next_conn: u64,
    /// Connections the engines closed, as (core, conn).
    closed: Vec<(usize, ConnId)>,
    allow_disconnect: bool,
    now: u64,
    /// Every space named by a frame delivered to each core (refusals included).
    heard: Vec<BTreeSet<SpaceId>>,
    /// Whether documents kept as received are indexed whenever the network is quiet (as a
    /// node does in the background).
    index: bool,
}

#[allow(
    clippy::expect_used,
    reason = "the test harness: any failure must stop the test with its message"
)]
impl Net {
    fn new(cores: Vec<Core>) -> Net {
        Net {
            heard: vec![BTreeSet::new(); cores.len()],
            cores,
            links: Vec::new(),
            queue: VecDeque::new(),
            next_conn: 1,
            now: 1_000,
            closed: Vec::new(),
            allow_disconnect: false,
            index: true,
        }
    }

    /// What the node does when it has been quiet: index kept documents, and tell the
    /// engine about local changes (and membership logs that arrived).
    fn quiet(&mut self) {
        for i in 0..self.cores.len() {
            if self.index && self.cores[i].take_kept_news() {
                self.cores[i].ingest_all_received().expect("index");
            }
            let effects = self.cores[i].sync_poll(self.now).expect("poll");
            self.apply(i, effects);
        }
    }

    fn connect(&mut self, dialer: usize, other: usize) {
        let (c1, c2) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
        self.next_conn += 2;
        self.links.push(((dialer, c1), (other, c2)));
        let (d, o) = (self.cores[dialer].device(), self.cores[other].device());
        self.queue.push_back((
            dialer,
            EngineEvent::Connected {
                conn: c1,
                peer: o,
                dialer: true,
            },
        ));
        self.queue.push_back((
            other,
            EngineEvent::Connected {
                conn: c2,
                peer: d,
                dialer: false,
            },
        ));
    }

    fn other_end(&self, core: usize, conn: ConnId) -> Option<(usize, ConnId)> {
        self.links.iter().find_map(|&(a, b)| {
            if a == (core, conn) {
                Some(b)
            } else if b == (core, conn) {
                Some(a)
            } else {
                None
            }
        })
    }

    fn apply(&mut self, core: usize, effects: Vec<EngineEffect>) {
        for effect in effects {
            match effect {
                EngineEffect::Send { conn, bytes, .. } => {
                    let n = bytes.len();
                    if let Some((to, their)) = self.other_end(core, conn) {
                        let mut rest = &bytes[..];
                        while let Ok((frame, used)) = protocol::decode_frame(rest) {
                            self.heard[to].insert(frame.space());
                            rest = &rest[used..];
                        }
                        self.queue
                            .push_back((to, EngineEvent::Received { conn: their, bytes }));
                    }
                    self.queue
                        .push_back((core, EngineEvent::Sent { conn, bytes: n }));
                }
                EngineEffect::Disconnect { conn, reason, .. } => {
                    assert!(
                        self.allow_disconnect,
                        "no honest peer should be disconnected here: {reason:?} on {conn:?}"
                    );
                    self.closed.push((core, conn));
                    if let Some((to, their)) = self.other_end(core, conn) {
                        self.queue
                            .push_back((to, EngineEvent::Disconnected { conn: their }));
                    }
                    self.links
                        .retain(|&(a, b)| a != (core, conn) && b != (core, conn));
                }
                _ => {}
            }
        }
    }

    /// Delivers everything until the network is quiet.
    fn settle(&mut self) {
        self.quiet();
        let mut steps = 0;
        while let Some((core, event)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "the network must go quiet");
            self.now += 1;
            let effects = self.cores[core]
                .sync_event(self.now, event)
                .expect("sync event");
            self.apply(core, effects);
            if self.queue.is_empty() {
                self.quiet();
            }
        }
    }
}

/// Two data dirs: Ada's, with cohort `name` holding `courses` courses (`edit` runs on each
/// one's id and number), and Ben's, added to the cohort with `role` and expecting it.
struct Pair {
    a_dir: tempfile::TempDir,
    b_dir: tempfile::TempDir,
    ada: Core,
    ben: Core,
    space: SpaceId,
    courses: Vec<cohort_model::DocId>,
}

#[allow(clippy::expect_used, reason = "a test helper")]
fn ada_with_courses_and_ben(
    name: &str,
    courses: usize,
    role: Role,
    mut edit: impl FnMut(&mut Core, cohort_model::DocId, usize),
) -> Pair {
    let a_dir = cohort_testkit::temp_dir().expect("temp dir");
    let b_dir = cohort_testkit::temp_dir().expect("temp dir");
    let mut ada = cohort_testkit::open_seeded(a_dir.path(), 1).expect("open");
    let mut ben = cohort_testkit::open_seeded(b_dir.path(), 2).expect("open");
    let space = ada.create_cohort(name, "").expect("cohort");
    let courses = (0..courses)
        .map(|i| {
            let id = ada
                .create_course(space, &format!("Course {i}"), "")
                .expect("course");
            edit(&mut ada, id, i);
            id
        })
        .collect();
    let ben_person = ben.me().expect("me").person;
    ada.add_member(space, ben_person, ben.device(), role)
        .expect("add");
    ben.expect_space(space);
    Pair {
        a_dir,
        b_dir,
        ada,
        ben,
        space,
        courses,
    }
}

#[allow(clippy::expect_used, reason = "a test helper")]
fn titles(core: &Core, kind: DocKind) -> Vec<String> {
    let mut t: Vec<String> = core
        .list(&[kind], None, None)
        .expect("list")
        .into_iter()
        .map(|d| d.title)
        .collect();
    t.sort();
    t
}

#[test]
fn a_member_receives_the_cohort_and_edits_flow_both_ways_while_outsiders_get_nothing() {
    let dirs: Vec<_> = (0..3)
        .map(|_| cohort_testkit::temp_dir().expect("temp dir"))
        .collect();
    let mut ada = cohort_testkit::open_seeded(dirs[0].path(), 1).expect("open ada");
    let mut ben = cohort_testkit::open_seeded(dirs[1].path(), 2).expect("open ben");
    let eve = cohort_testkit::open_seeded(dirs[2].path(), 3).expect("open eve");

    // Ada runs a cohort with a course, a lesson and a question; her journal is private.
    let space = ada
        .create_cohort("Night school", "Learn at night")
        .expect("cohort");
    let course = ada.create_course(space, "Botany", "").expect("course");
    let lesson = ada
        .add_lesson(course, None, "Leaves", "Chlorophyll makes leaves green.")
        .expect("lesson");
    let thread = ada
        .new_thread(
            space,
            ThreadKind::Question,
            "Why green?",
            "Why not red?",
            Some(lesson),
            Some((0, 11)),
        )
        .expect("thread");
    ada.add_journal("Private", "Only mine: mitochondria", &[])
        .expect("journal");

    // Ada admits Ben (who holds his invite, so expects the space); Eve is never admitted.
    let ben_person = ben.me().expect("me").person;
    ada.add_member(space, ben_person, ben.device(), Role::Learner)
        .expect("add ben");
    ben.expect_space(space);

    let mut net = Net::new(vec![ada, ben, eve]);
    net.connect(1, 0); // Ben dials Ada
    net.connect(2, 0); // Eve dials Ada
    net.settle();

    let [ada, ben, eve] = &mut net.cores[..] else {
        unreachable!()
    };
    assert_eq!(
        titles(ben, DocKind::Course),
        vec!["Botany"],
        "Ben receives the course"
    );
    assert_eq!(titles(ben, DocKind::Lesson), vec!["Leaves"]);
    assert_eq!(titles(ben, DocKind::Thread), vec!["Why green?"]);
    assert!(
        ben.search("chlorophyll", None, None, 10)
            .expect("search")
            .len()
            == 1,
        "synced documents are indexed for search on arrival"
    );
    let members = ben.members(space).expect("members");
    assert_eq!(
        members.len(),
        2,
        "Ben holds the signed log naming both of them"
    );
    let role_in = |core: &Core, space| {
        let spaces = core.spaces().expect("spaces");
        spaces.into_iter().find(|s| s.id == space).map(|s| s.role)
    };
    assert_eq!(role_in(ben, space), Some(Some(Role::Learner)));
    assert_eq!(role_in(ada, space), Some(Some(Role::Facilitator)));
    assert_eq!(
        role_in(ben, ben.personal_space()),
        Some(None),
        "the personal space has no role"
    );
    assert!(
        ben.list(&[DocKind::JournalEntry], Some(ada.personal_space()), None)
            .expect("list")
            .is_empty()
            && ben
                .search("mitochondria", None, None, 10)
                .expect("search")
                .is_empty(),
        "Ada's journal never leaves her device"
    );
    let eve_personal = eve.personal_space();
    assert!(
        eve.list(&DocKind::ALL, None, None)
            .expect("list")
            .iter()
            .all(|d| d.space == eve_personal),
        "a non-member receives nothing: Eve holds only her own personal space"
    );

    // Ben answers; Ada sees it. Ada edits the lesson; Ben sees the edit and the anchor moves.
    let post = ben
        .reply(thread, "Chlorophyll reflects green light.", None)
        .expect("reply");
    ada.splice_lesson(lesson, &[cohort_model::Splice::insert(0, "Plants: ")])
        .expect("splice");
    net.settle();
    let [ada, ben, _] = &mut net.cores[..] else {
        unreachable!()
    };
    let on_ada = ada.thread(thread).expect("thread");
    assert!(
        on_ada.thread.posts.iter().any(|p| p.id == post),
        "Ben's reply reaches Ada"
    );
    let on_ben = ben.lesson(lesson).expect("lesson");
    assert!(
        on_ben.lesson.body.starts_with("Plants: Chlorophyll"),
        "Ada's edit reaches Ben: {}",
        on_ben.lesson.body
    );
    match ben.thread(thread).expect("thread").anchor {
        Some(cohort_model::AnchorState::Attached { text, .. }) => {
            assert_eq!(
                text, "Chlorophyll",
                "the anchor follows its passage on Ben's copy"
            )
        }
        other => panic!("the anchor must stay attached, got {other:?}"),
    }
    assert_eq!(
        ada.export_json(thread).expect("json"),
        ben.export_json(thread).expect("json"),
        "both copies of the thread are identical"
    );
}

/// How many `Synced` notices for `space` the core has gathered since the last call.
fn synced_notices(core: &mut Core, space: cohort_model::SpaceId) -> usize {
    core.take_sync_notices()
        .iter()
        .filter(|n| n.kind == SyncNoticeKind::Synced && n.space == Some(space))
        .count()
}

/// Story: Ben is admitted to Ada's cohort of 30 courses. Each side announces the cohort in
/// sync once everything has arrived, and its sync status counts the bytes each way. Ben's
/// later edit is announced again once acknowledged; a reconnect, once the two compared.
#[test]
fn synced_is_announced_after_each_comparison_and_each_acknowledged_edit() {
    // The dirs are kept (bound) for as long as the cores use them.
    let Pair {
        a_dir: _a_dir,
        b_dir: _b_dir,
        ada,
        ben,
        space,
        ..
    } = ada_with_courses_and_ben("Announced", 30, Role::Learner, |_, _, _| {});
    let mut net = Net::new(vec![ada, ben]);
    net.connect(1, 0);
    net.settle();
    for core in &mut net.cores {
        assert!(
            synced_notices(core, space) >= 1,
            "both sides announce the cohort in sync"
        );
    }
    assert_eq!(titles(&net.cores[1], DocKind::Course).len(), 30);
    let status = |core: &mut Core| {
        core.sync_status()
            .expect("status")
            .into_iter()
            .find(|s| s.space == space)
            .expect("the cohort's row")
    };
    let (a, b) = (status(&mut net.cores[0]), status(&mut net.cores[1]));
    assert!(a.bytes_sent > 0 && a.last_sync.is_some() && a.pending == 0);
    assert_eq!(
        (a.bytes_sent, a.bytes_received),
        (b.bytes_received, b.bytes_sent),
        "what one sent about the cohort, the other received"
    );

    let course = net.cores[1]
        .list(&[DocKind::Course], Some(space), None)
        .expect("list")[0]
        .id;
    net.cores[1]
        .update_course(course, Some("Renamed by Ben"), None)
        .expect("edit");
    net.settle();
    assert!(
        synced_notices(&mut net.cores[1], space) >= 1,
        "in sync again once Ada acknowledged Ben's edit"
    );
    synced_notices(&mut net.cores[0], space);
    assert!(titles(&net.cores[0], DocKind::Course).contains(&"Renamed by Ben".to_owned()));
    assert_eq!(
        net.cores[0]
            .search("renamed", None, None, 10)
            .expect("search")
            .len(),
        1,
        "a small synced change is found by the next search"
    );

    // Reconnect: nothing differs, and each side says so once the digests matched.
    let links = std::mem::take(&mut net.links);
    for ((c1, k1), (c2, k2)) in links {
        net.queue
            .push_back((c1, EngineEvent::Disconnected { conn: k1 }));
        net.queue
            .push_back((c2, EngineEvent::Disconnected { conn: k2 }));
    }
    net.settle();
    for core in &mut net.cores {
        assert_eq!(synced_notices(core, space), 0, "no peer, no notice");
    }
    net.connect(0, 1);
    net.settle();
    for core in &mut net.cores {
        assert_eq!(
            synced_notices(core, space),
            1,
            "in sync again after comparing"
        );
    }
}

#[test]
fn synced_documents_survive_a_restart_of_the_receiver() {
    let Pair {
        a_dir,
        b_dir,
        ada,
        ben,
        space,
        ..
    } = ada_with_courses_and_ben("Keep", 40, Role::Observer, |ada, course, i| {
        if i % 2 == 0 {
            // Stored as a snapshot and a change chunk.
            ada.update_course(course, None, Some("edited"))
                .expect("edit");
        }
    });
    let mut net = Net::new(vec![ada, ben]);
    // Ben's node stops before it indexed what it received.
    net.index = false;
    net.connect(0, 1);
    net.settle();
    let in_sync = net.cores[0]
        .sync_status()
        .expect("status")
        .into_iter()
        .any(|s| s.space == space && s.pending == 0 && s.last_sync.is_some());
    assert!(in_sync, "Ada is in sync once Ben has the documents on disk");
    let indexing = |core: &mut Core| {
        core.sync_status()
            .expect("status")
            .into_iter()
            .find(|s| s.space == space)
            .map_or(0, |s| s.indexing)
    };
    assert!(
        indexing(&mut net.cores[1]) >= 40,
        "received whole, kept to index"
    );
    // The membership log was sent first, so it is indexed first: the first document
    // indexed makes Ben a member.
    assert!(net.cores[1].members(space).is_err(), "not a member before");
    net.cores[1].ingest_received(1).expect("index one");
    let names: Vec<String> = net.cores[1]
        .members(space)
        .expect("a member once the first document is indexed")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let ben = net.cores.pop().expect("ben");
    drop(ben);
    let mut ben = cohort_testkit::open_seeded(b_dir.path(), 22).expect("reopen");
    ben.expect_space(space);
    let left = indexing(&mut ben);
    assert!(left >= 40, "kept across the restart: {left}");
    assert!(
        ben.list(&[DocKind::Course], Some(space), None)
            .expect("list")
            .is_empty(),
        "not listed before it is indexed"
    );
    ben.ingest_all_received().expect("index");
    assert_eq!(indexing(&mut ben), 0);
    let courses = ben
        .list(&[DocKind::Course], Some(space), None)
        .expect("list");
    assert_eq!(
        courses.len(),
        40,
        "every synced course was on disk before the engine moved on"
    );
    ben.check().expect("the database is intact");
    assert_eq!(ben.verify_documents().expect("verify"), Vec::new());

    // A document received whole is stored as its sender stored it, not encoded again.
    let open = |dir: &std::path::Path| {
        cohort_store::Store::open(&dir.join(cohort_core::DB_FILE)).expect("store")
    };
    let (a_store, b_store) = (open(a_dir.path()), open(b_dir.path()));
    for course in &courses {
        let sent = a_store.load(course.id).expect("load").expect("at A");
        let got = b_store.load(course.id).expect("load").expect("at B");
        let mut as_sent = sent.snapshot.clone();
        for chunk in &sent.chunks {
            as_sent.extend_from_slice(chunk);
        }
        assert_eq!(got.snapshot, as_sent, "{}", course.title);
        assert!(got.chunks.is_empty());
    }
}

#[test]
fn a_removed_member_is_disconnected_and_receives_nothing_new() {
    let a_dir = cohort_testkit::temp_dir().expect("temp dir");
    let b_dir = cohort_testkit::temp_dir().expect("temp dir");
    // Ada's clock moves: the log orders entries by time, and a removal must come after the
    // addition it undoes.
    let clock = std::sync::Arc::new(cohort_core::ManualClock::new(cohort_testkit::EPOCH));
    let mut ada = Core::open(
        a_dir.path(),
        cohort_core::OpenOptions {
            clock: clock.clone(),
            ids: Box::new(cohort_core::SequentialIds::new(1)),
            display_name: Some("Ada".into()),
            cache_docs: 64,
        },
    )
    .expect("open");
    let mut ben = cohort_testkit::open_seeded(b_dir.path(), 2).expect("open");
    let space = ada.create_cohort("Strict", "").expect("cohort");
    ada.create_course(space, "Before", "").expect("course");
    let ben_person = ben.me().expect("me").person;
    ada.add_member(space, ben_person, ben.device(), Role::Learner)
        .expect("add");
    ben.expect_space(space);
    let mut net = Net::new(vec![ada, ben]);
    net.allow_disconnect = true;
    net.connect(1, 0);
    net.settle();
    assert_eq!(
        titles(&net.cores[1], DocKind::Course),
        vec!["Before"],
        "Ben synced"
    );

    // Ada removes Ben while he is connected: the engine closes his connection at once.
    clock.advance(60_000);
    net.cores[0]
        .remove_member(space, ben_person)
        .expect("remove");
    net.cores[0]
        .create_course(space, "After", "")
        .expect("course");
    net.settle();
    assert!(
        net.closed.iter().any(|&(core, _)| core == 0),
        "Ada's side closes the removed member's connection"
    );

    // Ben reconnects; Ada refuses him, and he never sees what she wrote after removing him.
    net.connect(1, 0);
    net.settle();
    assert_eq!(
        titles(&net.cores[1], DocKind::Course),
        vec!["Before"],
        "a removed member keeps what he had and receives nothing new"
    );
    let members = net.cores[0].members(space).expect("members");
    assert!(
        members.iter().all(|m| m.person != ben_person),
        "Ada's log no longer lists Ben"
    );
}

/// Story: Ada invites Ben with a ticket. Ben redeems it and dials Ada; Ada's core checks the
/// redemption and admits him; Ben receives the cohort, sees Ada's name, and Ada sees his. A
/// second person presenting a used-up ticket is refused and told why, and receives nothing.
#[test]
fn a_ticket_admits_a_new_member_once() {
    let dirs: Vec<_> = (0..3)
        .map(|_| cohort_testkit::temp_dir().expect("temp dir"))
        .collect();
    let mut ada = cohort_testkit::open_seeded(dirs[0].path(), 1).expect("open ada");
    let mut ben = cohort_testkit::open_seeded(dirs[1].path(), 2).expect("open ben");
    let mut cy = cohort_testkit::open_seeded(dirs[2].path(), 3).expect("open cy");
    ada.set_display_name("Ada").expect("name");
    ben.set_display_name("Ben").expect("name");
    let space = ada.create_cohort("Night school", "").expect("cohort");
    ada.create_course(space, "Botany", "").expect("course");
    let invite = ada
        .create_invite(
            space,
            Role::Learner,
            1,
            7,
            vec!["/ip4/127.0.0.1/tcp/1".into()],
        )
        .expect("invite");
    assert!(invite.ticket.starts_with("cohort1"));

    let join = ben.join(&invite.ticket).expect("join");
    assert_eq!(join.space, space);
    assert_eq!(join.addrs, vec!["/ip4/127.0.0.1/tcp/1".to_owned()]);
    assert!(!ben.is_member(space));
    let status = ben.sync_status().expect("status");
    assert!(
        status
            .iter()
            .any(|s| s.space == space && s.joining.as_deref() == Some("waiting for a member")),
        "{status:?}"
    );
    cy.join(&invite.ticket)
        .expect("cy redeems the same single-use ticket");

    let mut net = Net::new(vec![ada, ben, cy]);
    net.connect(1, 0); // Ben dials Ada
    net.settle();
    net.connect(2, 0); // Cy dials Ada after Ben used the ticket
    net.settle();
    let [ada, ben, cy] = &mut net.cores[..] else {
        unreachable!()
    };
    assert!(ben.is_member(space), "Ben is admitted");
    assert_eq!(titles(ben, DocKind::Course), vec!["Botany"]);
    let mut names: Vec<String> = ben
        .members(space)
        .expect("members")
        .into_iter()
        .map(|m| m.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["Ada", "Ben"], "names travel in member cards");
    let mut names: Vec<String> = ada
        .members(space)
        .expect("members")
        .into_iter()
        .map(|m| m.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["Ada", "Ben"]);
    assert!(ben.joins_waiting().expect("joins").is_empty());

    assert!(!cy.is_member(space), "the ticket was used up");
    assert!(
        titles(cy, DocKind::Course).is_empty(),
        "Cy receives nothing"
    );
    let status = cy.sync_status().expect("status");
    let joining = status
        .iter()
        .find(|s| s.space == space)
        .and_then(|s| s.joining.clone())
        .expect("Cy's join is still listed");
    assert!(joining.contains("already used"), "{joining}");
    assert!(
        cy.join("cohort1abc").is_err(),
        "a damaged ticket is refused with an error"
    );
}

/// Opens a data dir on a shared, movable clock (membership logs order entries by time).
#[allow(clippy::expect_used, reason = "a test helper")]
fn open_on(
    dir: &std::path::Path,
    seed: u64,
    name: &str,
    clock: &std::sync::Arc<cohort_core::ManualClock>,
) -> Core {
    Core::open(
        dir,
        cohort_core::OpenOptions {
            clock: clock.clone(),
            ids: Box::new(cohort_core::SequentialIds::new(seed)),
            display_name: Some(name.into()),
            cache_docs: 64,
        },
    )
    .expect("open")
}

/// A ticket address naming `core`'s device, as a running node would write it.
#[allow(clippy::expect_used, reason = "a test helper")]
fn address_of(core: &Core) -> String {
    let peer = cohort_net::peer_id_from_device_key(core.device().0).expect("peer id");
    format!("/ip4/127.0.0.1/tcp/1/p2p/{peer}")
}

/// Story: Ada (laptop) and Ben share a cohort. Ada links her tablet, a fresh data dir, with
/// a device-link ticket. The tablet becomes Ada's: it receives her journal and profile, and
/// her cohort; Ben's device accepts it as Ada's. Ben never hears of Ada's personal space,
/// although the tablet talks to him too. Edits flow everywhere they belong. Then Ada removes
/// the tablet from her laptop, and it receives nothing new.
#[test]
#[allow(clippy::too_many_lines, reason = "one story, told in order")]
fn a_linked_device_gets_the_personal_space_and_cohorts_and_nothing_after_removal() {
    let dirs: Vec<_> = (0..3)
        .map(|_| cohort_testkit::temp_dir().expect("temp dir"))
        .collect();
    let clock = std::sync::Arc::new(cohort_core::ManualClock::new(cohort_testkit::EPOCH));
    let mut ada = open_on(dirs[0].path(), 1, "Ada", &clock);
    let mut ben = open_on(dirs[1].path(), 2, "Ben", &clock);
    let mut tablet = open_on(dirs[2].path(), 3, "Someone", &clock);
    let space = ada.create_cohort("Night school", "").expect("cohort");
    ada.create_course(space, "Botany", "").expect("course");
    let ben_person = ben.me().expect("me").person;
    ada.add_member(space, ben_person, ben.device(), Role::Learner)
        .expect("add ben");
    ben.expect_space(space);
    let diary = ada
        .add_journal("Dear diary", "Only mine: mitochondria", &[])
        .expect("journal");
    let ada_me = ada.me().expect("me");
    let personal = ada_me.personal_space;

    clock.advance(1_000);
    let link = ada
        .create_device_link(10, vec![address_of(&ada)])
        .expect("device link");
    assert_eq!(link.space, personal);
    assert!(
        ben.add_device(&link.ticket, None).is_err(),
        "a data dir with a cohort of its own cannot become someone's device"
    );
    assert!(
        ada.add_device(&link.ticket, None).is_err(),
        "the ticket is for another device"
    );
    assert!(
        tablet.join(&link.ticket).is_err(),
        "a device-link ticket is not a cohort invite"
    );
    let added = tablet
        .add_device(&link.ticket, Some("tablet"))
        .expect("device add");
    assert_eq!(added.person, ada_me.person);
    assert!(tablet.linking().expect("linking").is_some());

    let mut net = Net::new(vec![ada, ben, tablet]);
    net.connect(1, 0); // Ben dials Ada
    net.settle();
    net.connect(2, 1); // the tablet dials Ben first: it must not present Ada's ticket to him
    net.connect(2, 0); // then Ada
    net.settle();

    let [_, ben, tablet] = &mut net.cores[..] else {
        unreachable!()
    };
    assert!(
        tablet.linking().expect("linking").is_none(),
        "the link is done"
    );
    let me = tablet.me().expect("me");
    assert_eq!(me.person, ada_me.person, "the tablet is Ada's device now");
    assert_eq!(me.personal_space, personal);
    assert_eq!(me.display_name, "Ada", "it shows her profile");
    assert_eq!(
        titles(tablet, DocKind::JournalEntry),
        vec!["Dear diary"],
        "her journal reached the tablet"
    );
    assert_eq!(
        tablet
            .search("mitochondria", None, None, 10)
            .expect("search")
            .len(),
        1,
        "and is searchable there"
    );
    assert_eq!(
        titles(tablet, DocKind::Course),
        vec!["Botany"],
        "her cohort reached the tablet"
    );
    let mut names: Vec<(String, usize)> = ben
        .members(space)
        .expect("members")
        .into_iter()
        .map(|m| (m.name, m.devices))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![("Ada".into(), 2), ("Ben".into(), 1)],
        "Ben's copy of the cohort's log accepts the tablet as Ada's"
    );
    let devices = tablet.devices().expect("devices");
    assert_eq!(devices.len(), 2, "{devices:?}");
    assert!(
        devices[0].this_device && devices[0].name == "tablet",
        "{devices:?}"
    );
    assert!(
        ben.list(&DocKind::ALL, Some(personal), None)
            .expect("list")
            .is_empty()
            && ben
                .search("mitochondria", None, None, 10)
                .expect("search")
                .is_empty(),
        "Ada's personal space never reaches Ben"
    );
    assert!(
        !net.heard[1].contains(&personal),
        "no frame naming Ada's personal space ever reached Ben"
    );

    // The tablet writes in the journal and the cohort; Ben writes a note; all arrive where
    // they belong.
    let [_, ben, tablet] = &mut net.cores[..] else {
        unreachable!()
    };
    tablet
        .add_journal("From the tablet", "Written on the sofa", &[])
        .expect("journal");
    tablet
        .splice_text_doc(diary, &[cohort_model::Splice::insert(0, "Edited: ")])
        .expect("edit diary");
    tablet
        .new_note(space, "Tablet note", "", &[], None)
        .expect("note");
    ben.new_note(space, "Ben's note", "", &[], None)
        .expect("note");
    net.settle();
    let [ada, ben, tablet] = &mut net.cores[..] else {
        unreachable!()
    };
    assert_eq!(
        titles(ada, DocKind::JournalEntry),
        vec!["Dear diary", "From the tablet"],
        "the tablet's journal entry reaches the laptop"
    );
    assert!(
        ada.journal_entry(diary)
            .expect("entry")
            .body
            .starts_with("Edited: "),
        "and so does its edit"
    );
    assert_eq!(
        titles(tablet, DocKind::Note),
        vec!["Ben's note", "Tablet note"]
    );
    assert_eq!(
        titles(ben, DocKind::Note),
        vec!["Ben's note", "Tablet note"]
    );
    assert!(
        titles(ben, DocKind::JournalEntry).is_empty(),
        "Ben holds no journal"
    );

    // Ada removes the tablet from her laptop; it is disconnected and receives nothing new.
    clock.advance(60_000);
    let tablet_id = tablet.device().to_string();
    net.allow_disconnect = true;
    net.cores[0]
        .remove_device(&tablet_id[..8])
        .expect("remove device");
    net.settle();
    let [ada, ben, _] = &mut net.cores[..] else {
        unreachable!()
    };
    assert_eq!(ada.devices().expect("devices").len(), 1);
    ada.add_journal("After", "", &[]).expect("journal");
    ben.new_note(space, "After", "", &[], None).expect("note");
    net.settle();
    net.connect(2, 0);
    net.connect(2, 1);
    net.settle();
    let [_, ben, tablet] = &mut net.cores[..] else {
        unreachable!()
    };
    assert!(
        !titles(tablet, DocKind::JournalEntry).contains(&"After".to_owned()),
        "a removed device receives no new journal entry"
    );
    assert!(
        !titles(tablet, DocKind::Note).contains(&"After".to_owned()),
        "nor new cohort notes"
    );
    let ada_devices = ben
        .members(space)
        .expect("members")
        .into_iter()
        .find(|m| m.person == ada_me.person)
        .map(|m| m.devices);
    assert_eq!(ada_devices, Some(1), "Ben's log no longer lists the tablet");
}

/// Story: a device-link ticket works once and only until it expires; the device that made
/// it says why it refuses, and the refused device receives nothing.
#[test]
fn a_used_up_or_expired_device_link_is_refused_with_its_reason() {
    let dirs: Vec<_> = (0..3)
        .map(|_| cohort_testkit::temp_dir().expect("temp dir"))
        .collect();
    let clock = std::sync::Arc::new(cohort_core::ManualClock::new(cohort_testkit::EPOCH));
    let mut ada = open_on(dirs[0].path(), 1, "Ada", &clock);
    let mut phone = open_on(dirs[1].path(), 2, "Phone", &clock);
    let mut spare = open_on(dirs[2].path(), 3, "Spare", &clock);
    ada.add_journal("Secret", "", &[]).expect("journal");
    let once = ada.create_device_link(10, Vec::new()).expect("link");
    let short = ada.create_device_link(1, Vec::new()).expect("link");
    phone.add_device(&once.ticket, None).expect("add");
    spare.add_device(&once.ticket, None).expect("add");

    let mut net = Net::new(vec![ada, phone, spare]);
    net.connect(1, 0);
    net.settle();
    net.connect(2, 0);
    net.settle();
    let [_, phone, spare] = &mut net.cores[..] else {
        unreachable!()
    };
    assert!(
        phone.linking().expect("linking").is_none(),
        "the phone is linked"
    );
    let refused = spare
        .linking()
        .expect("linking")
        .expect("the spare is still waiting");
    assert!(refused.hopeless, "{refused:?}");
    assert!(
        refused
            .refused
            .as_deref()
            .unwrap_or("")
            .contains("already used"),
        "{refused:?}"
    );
    assert!(
        titles(spare, DocKind::JournalEntry).is_empty(),
        "a refused device receives nothing"
    );

    // The short ticket expires; a redemption after that is refused as expired.
    clock.advance(2 * 60_000);
    let dir = cohort_testkit::temp_dir().expect("temp dir");
    let late = open_on(dir.path(), 4, "Late", &clock);
    net.cores.push(late);
    net.heard.push(BTreeSet::new());
    net.cores[3].add_device(&short.ticket, None).expect("add");
    net.connect(3, 0);
    net.settle();
    let refused = net.cores[3]
        .linking()
        .expect("linking")
        .expect("still waiting");
    assert!(
        refused.hopeless && refused.refused.as_deref().unwrap_or("").contains("expired"),
        "{refused:?}"
    );
}

/// Documents kept as received are checked when they are indexed: bytes that do not load to
/// the heads their sender named are dropped, and a document something needs before the
/// indexer reaches it is made at once.
#[test]
fn kept_documents_are_checked_when_indexed_and_made_at_once_when_needed() {
    let Pair {
        a_dir: _a_dir,
        b_dir,
        ada,
        ben,
        space,
        courses: ids,
    } = ada_with_courses_and_ben("Checked", 20, Role::Observer, |_, _, _| {});
    let mut net = Net::new(vec![ada, ben]);
    net.index = false;
    net.connect(0, 1);
    net.settle();
    drop(net.cores.pop());

    // Two kept courses tampered with on disk: one's bytes are garbage, the other's are
    // another course (so they load, to other heads than were named).
    let mut store =
        cohort_store::Store::open(&b_dir.path().join(cohort_core::DB_FILE)).expect("store");
    let (garbage, swapped, needed) = (ids[0], ids[1], ids[2]);
    let kept = |id| store.received(id).expect("read").expect("kept");
    let mut bad = kept(garbage);
    bad.bytes = b"not a document".to_vec();
    let mut other = kept(swapped);
    other.bytes = kept(ids[3]).bytes;
    store
        .write(&cohort_store::WriteBatch {
            settled: vec![garbage, swapped],
            received: vec![bad, other],
            ..cohort_store::WriteBatch::default()
        })
        .expect("tamper");
    drop(store);

    let mut ben = cohort_testkit::open_seeded(b_dir.path(), 22).expect("reopen");
    // Needed before it is indexed: made at once (and written as an ordinary document).
    assert_eq!(
        ben.course(needed).expect("made at once").course.title,
        "Course 2"
    );
    assert!(
        ben.course(garbage).is_err(),
        "a bad kept document is not made"
    );
    ben.ingest_all_received().expect("index");
    let titles: BTreeSet<String> = ben
        .list(&[DocKind::Course], Some(space), None)
        .expect("list")
        .into_iter()
        .map(|m| m.title)
        .collect();
    assert_eq!(titles.len(), 18, "{titles:?}");
    assert!(!titles.contains("Course 0") && !titles.contains("Course 1"));
    assert!(titles.contains("Course 2") && titles.contains("Course 3"));
    assert!(ben.received_waiting().expect("waiting").is_empty());
    ben.check().expect("the database is intact");
    assert_eq!(ben.verify_documents().expect("verify"), Vec::new());
}
