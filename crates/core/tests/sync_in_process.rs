//! Two (and three) data dirs syncing through the core's sync engine over an in-memory pipe:
//! a member receives the cohort's documents and their search index, edits flow both ways,
//! and neither a non-member nor anyone else ever receives the personal space.

use std::collections::VecDeque;

use cohort_core::{ConnId, Core, EngineEffect, EngineEvent, SyncNoticeKind};
use cohort_model::{DocKind, Role, ThreadKind};

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
}

#[allow(
    clippy::expect_used,
    reason = "the test harness: any failure must stop the test with its message"
)]
impl Net {
    fn new(cores: Vec<Core>) -> Net {
        Net {
            cores,
            links: Vec::new(),
            queue: VecDeque::new(),
            next_conn: 1,
            now: 1_000,
            closed: Vec::new(),
            allow_disconnect: false,
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
        for i in 0..self.cores.len() {
            let effects = self.cores[i].sync_poll(self.now).expect("poll");
            self.apply(i, effects);
        }
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
                for i in 0..self.cores.len() {
                    let effects = self.cores[i].sync_poll(self.now).expect("poll");
                    self.apply(i, effects);
                }
            }
        }
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
    assert!(
        eve.list(
            &[
                DocKind::Course,
                DocKind::Thread,
                DocKind::Lesson,
                DocKind::Membership
            ],
            None,
            None
        )
        .expect("list")
        .is_empty(),
        "a non-member receives nothing"
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
    let a_dir = cohort_testkit::temp_dir().expect("temp dir");
    let b_dir = cohort_testkit::temp_dir().expect("temp dir");
    let mut ada = cohort_testkit::open_seeded(a_dir.path(), 1).expect("open");
    let mut ben = cohort_testkit::open_seeded(b_dir.path(), 2).expect("open");
    let space = ada.create_cohort("Announced", "").expect("cohort");
    for i in 0..30 {
        ada.create_course(space, &format!("Course {i}"), "")
            .expect("course");
    }
    let ben_person = ben.me().expect("me").person;
    ada.add_member(space, ben_person, ben.device(), Role::Learner)
        .expect("add");
    ben.expect_space(space);
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
    let a_dir = cohort_testkit::temp_dir().expect("temp dir");
    let b_dir = cohort_testkit::temp_dir().expect("temp dir");
    let mut ada = cohort_testkit::open_seeded(a_dir.path(), 1).expect("open");
    let mut ben = cohort_testkit::open_seeded(b_dir.path(), 2).expect("open");
    let space = ada.create_cohort("Keep", "").expect("cohort");
    for i in 0..40 {
        ada.create_course(space, &format!("Course {i}"), "")
            .expect("course");
    }
    let ben_person = ben.me().expect("me").person;
    ada.add_member(space, ben_person, ben.device(), Role::Observer)
        .expect("add");
    ben.expect_space(space);
    let mut net = Net::new(vec![ada, ben]);
    net.connect(0, 1);
    net.settle();
    let ben = net.cores.pop().expect("ben");
    drop(ben);
    let ben = cohort_testkit::open_seeded(b_dir.path(), 22).expect("reopen");
    assert_eq!(
        ben.list(&[DocKind::Course], Some(space), None)
            .expect("list")
            .len(),
        40,
        "every synced course was on disk before the engine moved on"
    );
    ben.check().expect("the database is intact");
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
