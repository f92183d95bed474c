//! Concurrent edits converge: two or three forks of one document (distinct actors) each apply
//! a random sequence of edits, then are merged in every order. Every copy must end with the
//! same heads and read the same, and nothing either side added may be lost (text merges per
//! character, list appends and flat-keyed maps merge as unions).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

use automerge::{ActorId, AutoCommit};
use cohort_model::{
    ChecklistItem, DocId, ItemId, Lesson, ModelError, NewPost, PersonId, Progress, Splice, Thread,
    ThreadKind,
};
use common::{doc_id, item, lesson_with_body, new_doc, person, question_thread, space};
use proptest::prelude::*;
use proptest::sample::Index;

/// The characters each fork inserts: disjoint per fork, so whose insert a character was can
/// be told from the merged text. Each has ASCII, a surrogate pair, a combining mark and CJK.
const FORK_PIECES: [&[&str]; 3] = [
    &["a", "b", "😀", "e\u{301}", "日"],
    &["x", "y", "🎉", "o\u{308}", "本"],
    &["m", "n", "🚀", "u\u{303}", "語"],
];

/// The base text's characters, disjoint from every fork's.
const BASE_PIECES: &[&str] = &["B", "ß", "🌱", " ", "ש"];

/// Gives every fork its own actor (the original keeps actor 1).
fn forks(doc: &mut AutoCommit, n: usize) -> Vec<AutoCommit> {
    (0..n)
        .map(|i| {
            let mut fork = doc.fork();
            fork.set_actor(ActorId::from([0xF0 + i as u8; 16]));
            fork
        })
        .collect()
}

/// Every order of `0..n` (n is 2 or 3).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 2 {
        vec![vec![0, 1], vec![1, 0]]
    } else {
        vec![
            vec![0, 1, 2],
            vec![0, 2, 1],
            vec![1, 0, 2],
            vec![1, 2, 0],
            vec![2, 0, 1],
            vec![2, 1, 0],
        ]
    }
}

/// Merges the forks in every order (the first of each order receives the rest, one by one)
/// and checks that all results have the same sorted heads and read the same. Returns one of
/// the merged copies.
fn merge_every_way<T: PartialEq + Debug>(
    forks: &mut [AutoCommit],
    read: fn(&AutoCommit) -> Result<T, ModelError>,
) -> Result<AutoCommit, TestCaseError> {
    let mut results: Vec<(Vec<automerge::ChangeHash>, T, AutoCommit)> = Vec::new();
    for order in permutations(forks.len()) {
        let mut copy = forks[order[0]].fork();
        copy.set_actor(ActorId::from([0xEE; 16]));
        for &other in &order[1..] {
            copy.merge(&mut forks[other].clone())?;
        }
        let mut heads = copy.get_heads();
        heads.sort();
        let value = read(&copy)?;
        if let Some((first_heads, first_value, _)) = results.first() {
            prop_assert_eq!(
                &heads,
                first_heads,
                "merging in order {:?} must reach the same heads as any other order",
                order
            );
            prop_assert_eq!(
                &value,
                first_value,
                "merging in order {:?} must read the same as any other order",
                order
            );
        }
        results.push((heads, value, copy));
    }
    // Merging pairwise first (b <- c, then a <- b) is yet another path to the same state.
    if forks.len() == 3 {
        let mut b = forks[1].fork();
        b.merge(&mut forks[2].clone())?;
        let mut a = forks[0].fork();
        a.merge(&mut b)?;
        let mut heads = a.get_heads();
        heads.sort();
        prop_assert_eq!(
            &heads,
            &results[0].0,
            "a chain of merges must reach the same heads"
        );
        prop_assert_eq!(
            &read(&a)?,
            &results[0].1,
            "a chain of merges must read the same"
        );
    }
    results
        .pop()
        .map(|(_, _, doc)| doc)
        .ok_or_else(|| TestCaseError::fail("no merge order"))
}

/// The characters of `text` that come from `pieces`, in order (a combining mark counts with
/// its base letter because every piece is matched whole).
fn chars_from(text: &str, pieces: &[&str]) -> Vec<char> {
    let own: BTreeSet<char> = pieces.iter().flat_map(|p| p.chars()).collect();
    text.chars().filter(|c| own.contains(c)).collect()
}

#[derive(Debug, Clone)]
enum LessonEdit {
    /// Insert the fork's pieces (chosen by index) at a caret chosen among the boundaries.
    Insert(Index, Vec<Index>),
    /// Delete from one boundary to a later one.
    Delete(Index, Index),
    /// Add a checklist item.
    Check,
}

fn lesson_edit() -> impl Strategy<Value = LessonEdit> + Clone {
    prop_oneof![
        (any::<Index>(), prop::collection::vec(any::<Index>(), 1..4))
            .prop_map(|(p, t)| LessonEdit::Insert(p, t)),
        (any::<Index>(), any::<Index>()).prop_map(|(p, l)| LessonEdit::Delete(p, l)),
        Just(LessonEdit::Check),
    ]
}

fn apply_lesson_edits(
    doc: &mut AutoCommit,
    fork: usize,
    edits: &[LessonEdit],
) -> Result<(), TestCaseError> {
    for (n, edit) in edits.iter().enumerate() {
        let body = Lesson::read(&*doc)?.body;
        let bounds = common::utf16_boundaries(&body);
        match edit {
            LessonEdit::Insert(pos, pieces) => {
                let text: String = pieces
                    .iter()
                    .map(|i| FORK_PIECES[fork][i.index(FORK_PIECES[fork].len())])
                    .collect();
                Lesson::splice_body(doc, &Splice::insert(bounds[pos.index(bounds.len())], text))?;
            }
            LessonEdit::Delete(pos, len) => {
                let i = pos.index(bounds.len());
                let j = i + len.index((bounds.len() - i).min(4));
                Lesson::splice_body(doc, &Splice::delete(bounds[i], bounds[j] - bounds[i]))?;
            }
            LessonEdit::Check => Lesson::add_checklist_item(
                doc,
                &ChecklistItem {
                    id: item(fork as u8, n as u16),
                    text: format!("fork {fork} item {n}"),
                },
            )?,
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum ThreadEdit {
    Reply(Option<Index>),
    React(Index, &'static str, u8, bool),
    Accept(Option<Index>),
}

fn thread_edit() -> impl Strategy<Value = ThreadEdit> + Clone {
    prop_oneof![
        any::<Option<Index>>().prop_map(ThreadEdit::Reply),
        (
            any::<Index>(),
            prop::sample::select(&["👍", "🎉", "ok"][..]),
            0..3u8,
            any::<bool>()
        )
            .prop_map(|(p, r, who, on)| ThreadEdit::React(p, r, who, on)),
        any::<Option<Index>>().prop_map(ThreadEdit::Accept),
    ]
}

fn apply_thread_edits(
    doc: &mut AutoCommit,
    fork: usize,
    edits: &[ThreadEdit],
) -> Result<(), TestCaseError> {
    for (n, edit) in edits.iter().enumerate() {
        let posts = Thread::read(&*doc)?.posts;
        let pick = |i: &Index| posts[i.index(posts.len())].id;
        match edit {
            ThreadEdit::Reply(to) => Thread::reply(
                doc,
                &NewPost {
                    id: item(0x10 + fork as u8, n as u16),
                    author: person(fork as u8),
                    body: FORK_PIECES[fork][n % FORK_PIECES[fork].len()],
                    at: common::at(n as i64),
                    reply_to: to.as_ref().map(pick),
                },
            )?,
            ThreadEdit::React(p, r, who, on) => {
                Thread::react(doc, pick(p), r, person(*who), *on)?;
            }
            ThreadEdit::Accept(choice) => {
                let answer = choice
                    .as_ref()
                    .map(|i| posts[1 + i.index(posts.len() - 1)].id);
                Thread::accept(doc, answer)?;
            }
        }
    }
    Ok(())
}

/// Every (post, reaction, person) that is on in `thread`.
fn reactions(thread: &Thread) -> BTreeSet<(ItemId, String, PersonId)> {
    thread
        .posts
        .iter()
        .flat_map(|p| {
            p.reactions
                .iter()
                .flat_map(move |(r, people)| people.iter().map(move |who| (p.id, r.clone(), *who)))
        })
        .collect()
}

#[derive(Debug, Clone)]
enum ProgressEdit {
    Tick(u8, u16, bool),
    Complete(u8, Option<i64>),
    Answer(u8, u16),
}

fn progress_edit() -> impl Strategy<Value = ProgressEdit> + Clone {
    prop_oneof![
        (0..3u8, 0..3u16, any::<bool>()).prop_map(|(l, i, d)| ProgressEdit::Tick(l, i, d)),
        (0..3u8, proptest::option::of(0..100i64)).prop_map(|(l, t)| ProgressEdit::Complete(l, t)),
        (0..3u8, 0..3u16).prop_map(|(l, q)| ProgressEdit::Answer(l, q)),
    ]
}

fn lesson(n: u8) -> DocId {
    doc_id(50 + n)
}

/// Every checklist tick in `progress`, by (lesson, item).
fn ticks(progress: &Progress) -> BTreeMap<(DocId, ItemId), bool> {
    progress
        .lessons
        .iter()
        .flat_map(|(l, p)| p.checklist.iter().map(move |(i, d)| ((*l, *i), *d)))
        .collect()
}

fn edits_per_fork<S: Strategy + Clone>(edit: S) -> impl Strategy<Value = Vec<Vec<S::Value>>> {
    (2..=3usize)
        .prop_flat_map(move |n| prop::collection::vec(prop::collection::vec(edit.clone(), 0..5), n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn concurrent_lesson_edits_converge_and_keep_every_inserted_character(
        base in prop::collection::vec(prop::sample::select(BASE_PIECES), 0..8),
        per_fork in edits_per_fork(lesson_edit()),
    ) {
        let mut doc = lesson_with_body(&base.concat())?;
        let mut copies = forks(&mut doc, per_fork.len());
        let mut own_text = Vec::new();
        let mut own_checks = Vec::new();
        for (fork, (copy, edits)) in copies.iter_mut().zip(&per_fork).enumerate() {
            apply_lesson_edits(copy, fork, edits)?;
            let lesson = Lesson::read(&*copy)?;
            own_text.push(chars_from(&lesson.body, FORK_PIECES[fork]));
            own_checks.push(lesson.checklist);
        }
        let merged = Lesson::read(&merge_every_way(&mut copies, Lesson::read)?)?;
        for fork in 0..per_fork.len() {
            prop_assert_eq!(
                &chars_from(&merged.body, FORK_PIECES[fork]),
                &own_text[fork],
                "fork {}'s inserted characters must all survive the merge, in its order, \
                 because no other fork could see (or delete) them; merged body {:?}",
                fork,
                merged.body
            );
            for check in &own_checks[fork] {
                prop_assert!(
                    merged.checklist.contains(check),
                    "checklist item {:?} added by fork {} must survive the merge", check, fork
                );
            }
        }
        let base_left = chars_from(&merged.body, BASE_PIECES).len();
        prop_assert!(
            base_left <= base.concat().chars().count(),
            "a merge must never invent base characters"
        );
    }

    #[test]
    fn concurrent_thread_replies_reactions_and_accepts_converge(
        per_fork in edits_per_fork(thread_edit()),
    ) {
        let mut doc = question_thread(ThreadKind::Question)?;
        let mut copies = forks(&mut doc, per_fork.len());
        let mut finals = Vec::new();
        for (fork, (copy, edits)) in copies.iter_mut().zip(&per_fork).enumerate() {
            apply_thread_edits(copy, fork, edits)?;
            finals.push(Thread::read(&*copy)?);
        }
        let merged = Thread::read(&merge_every_way(&mut copies, Thread::read)?)?;
        let merged_reactions = reactions(&merged);
        for (fork, thread) in finals.iter().enumerate() {
            for post in &thread.posts {
                prop_assert!(
                    merged.posts.iter().any(|p| p.id == post.id && p.body == post.body),
                    "post {:?} written on fork {} must be in the merged thread", post.id, fork
                );
            }
            prop_assert!(
                reactions(thread).is_subset(&merged_reactions),
                "a reaction made on fork {} can only be removed by an edit that saw it, \
                 so every one must survive the merge", fork
            );
        }
        let union: BTreeSet<_> = finals.iter().flat_map(reactions).collect();
        prop_assert_eq!(
            &merged_reactions,
            &union,
            "the merged reactions are exactly the union of every fork's"
        );
        let ids: BTreeSet<_> = merged.posts.iter().map(|p| p.id).collect();
        prop_assert_eq!(ids.len(), merged.posts.len(), "no post may appear twice after a merge");
        prop_assert!(
            finals.iter().any(|t| t.accepted == merged.accepted),
            "the accepted answer after a merge must be one that some fork chose, not {:?}",
            merged.accepted
        );
    }

    #[test]
    fn concurrent_progress_ticks_converge_to_the_union_of_keys(
        per_fork in edits_per_fork(progress_edit()),
    ) {
        let mut doc = new_doc(1);
        Progress::create(&mut doc, doc_id(35), space(1), person(3))?;
        let mut copies = forks(&mut doc, per_fork.len());
        let mut finals = Vec::new();
        for (copy, edits) in copies.iter_mut().zip(&per_fork) {
            for edit in edits {
                match edit {
                    ProgressEdit::Tick(l, i, d) => Progress::tick(copy, lesson(*l), item(0xB0, *i), *d)?,
                    ProgressEdit::Complete(l, t) => {
                        Progress::set_complete(copy, lesson(*l), t.map(common::at))?;
                    }
                    ProgressEdit::Answer(l, q) => Progress::answer(copy, lesson(*l), item(0xB1, *q), "42")?,
                }
            }
            finals.push(Progress::read(&*copy)?);
        }
        let merged = ticks(&Progress::read(&merge_every_way(&mut copies, Progress::read)?)?);
        let keys: BTreeSet<_> = finals.iter().flat_map(|p| ticks(p).into_keys()).collect();
        prop_assert_eq!(
            merged.keys().copied().collect::<BTreeSet<_>>(),
            keys,
            "every checklist item ticked on any fork must be present after the merge"
        );
        for (key, done) in &merged {
            prop_assert!(
                finals.iter().any(|p| ticks(p).get(key) == Some(done)),
                "tick {:?} = {} must be a value some fork wrote", key, done
            );
        }
    }
}

/// A fixed story next to the generated ones: two people type at different places of the
/// same sentence at the same time, with emoji and a combining accent, and both edits survive.
#[test]
fn two_people_typing_at_different_places_both_keep_their_words() -> Result<(), ModelError> {
    let mut doc = lesson_with_body("Light becomes sugar.")?;
    let mut left = doc.fork();
    left.set_actor(ActorId::from([0xA1; 16]));
    let mut right = doc.fork();
    right.set_actor(ActorId::from([0xA2; 16]));
    Lesson::splice_body(&mut left, &Splice::insert(0, "🌞 "))?;
    Lesson::splice_body(&mut right, &Splice::insert(19, " (cafe\u{301})"))?;
    left.merge(&mut right.clone())?;
    right.merge(&mut left.clone())?;
    for side in [&left, &right] {
        assert_eq!(
            Lesson::read(side)?.body,
            "🌞 Light becomes sugar (cafe\u{301}).",
            "concurrent inserts at different places must both survive, whichever side merged"
        );
    }
    assert_eq!(
        left.get_heads(),
        right.get_heads(),
        "after exchanging changes both sides must have the same heads"
    );
    Ok(())
}
