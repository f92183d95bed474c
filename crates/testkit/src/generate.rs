//! Generated data sets: courses of Markdown lessons, threads with many posts, notes and
//! journal entries, written in bulk through the core's batch import.

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use cohort_core::Core;
use cohort_model::{
    Course, DocId, ItemId, JournalEntry, Lesson, NewCourse, NewLesson, NewPost, NewText, NewThread,
    Note, PersonId, SpaceId, Thread, ThreadKind, Timestamp,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::EPOCH;

/// The size of a generated data set.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Courses.
    pub courses: usize,
    /// Lessons per course.
    pub lessons_per_course: usize,
    /// Approximate Markdown bytes per lesson.
    pub lesson_bytes: usize,
    /// Threads.
    pub threads: usize,
    /// Fewest posts per thread.
    pub posts_min: usize,
    /// Most posts per thread.
    pub posts_max: usize,
    /// Notes.
    pub notes: usize,
    /// Journal entries.
    pub journal: usize,
    /// Random seed.
    pub seed: u64,
}

impl Spec {
    /// The foundation benchmark's data set: 10,000 documents (100 courses x 10 lessons,
    /// 8,000 threads averaging 12.5 posts = ~100,000 posts, 450 notes, 450 journal entries).
    pub fn foundation() -> Spec {
        Spec {
            courses: 100,
            lessons_per_course: 10,
            lesson_bytes: 3_000,
            threads: 8_000,
            posts_min: 5,
            posts_max: 20,
            notes: 450,
            journal: 450,
            seed: 42,
        }
    }

    /// A small set for tests.
    pub fn tiny() -> Spec {
        Spec {
            courses: 2,
            lessons_per_course: 3,
            lesson_bytes: 600,
            threads: 10,
            posts_min: 1,
            posts_max: 4,
            notes: 3,
            journal: 3,
            seed: 7,
        }
    }

    /// How many documents the set holds.
    pub fn documents(&self) -> usize {
        self.courses * (1 + self.lessons_per_course) + self.threads + self.notes + self.journal
    }
}

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    /// The cohort space everything shared lives in.
    pub space: Option<SpaceId>,
    /// Course ids.
    pub courses: Vec<DocId>,
    /// Lesson ids.
    pub lessons: Vec<DocId>,
    /// Thread ids.
    pub threads: Vec<DocId>,
    /// Note ids.
    pub notes: Vec<DocId>,
    /// Journal entry ids.
    pub journal: Vec<DocId>,
    /// Total posts across threads.
    pub posts: usize,
}

const WORDS: &[&str] = &[
    "learning",
    "cohort",
    "lesson",
    "practice",
    "question",
    "answer",
    "example",
    "memory",
    "function",
    "variable",
    "photosynthesis",
    "energy",
    "history",
    "river",
    "market",
    "garden",
    "clinic",
    "patient",
    "school",
    "teacher",
    "reading",
    "writing",
    "method",
    "evidence",
    "theory",
    "model",
    "data",
    "network",
    "offline",
    "sync",
    "review",
    "habit",
    "focus",
    "summary",
    "chapter",
    "exercise",
    "project",
    "feedback",
    "mentor",
    "peer",
    "goal",
    "schedule",
    "milestone",
    "journal",
    "note",
    "draft",
    "idea",
    "problem",
    "solution",
    "because",
    "therefore",
    "however",
    "carefully",
    "quickly",
    "together",
    "slowly",
    "every",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "that",
    "with",
    "for",
    "on",
    "we",
    "you",
];

fn sentence(rng: &mut StdRng) -> String {
    let n = rng.random_range(6..16);
    let mut s = String::new();
    for i in 0..n {
        let w = WORDS[rng.random_range(0..WORDS.len())];
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s.push('.');
    s
}

/// Realistic Markdown of about `bytes` bytes: headings, paragraphs, lists and code.
pub fn markdown(rng: &mut StdRng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 200);
    let mut section = 1;
    while out.len() < bytes {
        out.push_str(&format!(
            "## Part {section}: {}\n\n",
            sentence(rng).trim_end_matches('.')
        ));
        for _ in 0..rng.random_range(1..4) {
            for _ in 0..rng.random_range(2..5) {
                out.push_str(&sentence(rng));
                out.push(' ');
            }
            out.push_str("\n\n");
        }
        if rng.random_bool(0.5) {
            for _ in 0..rng.random_range(2..5) {
                out.push_str("- ");
                out.push_str(&sentence(rng));
                out.push('\n');
            }
            out.push('\n');
        }
        if rng.random_bool(0.2) {
            out.push_str("```\nlet total = items.iter().map(|x| x.value).sum::<u32>();\n```\n\n");
        }
        section += 1;
    }
    out
}

struct Gen {
    rng: StdRng,
    counter: u64,
    actor: ActorId,
    people: Vec<PersonId>,
    now: i64,
}

impl Gen {
    fn id(&mut self) -> [u8; 16] {
        self.counter += 1;
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&0xC0_40_27_u64.to_be_bytes());
        out[8..].copy_from_slice(&self.counter.to_be_bytes());
        out
    }

    fn doc(&self) -> AutoCommit {
        AutoCommit::new().with_actor(self.actor.clone())
    }

    fn tick(&mut self) -> Timestamp {
        self.now += self.rng.random_range(1_000..600_000);
        Timestamp(self.now)
    }

    fn person(&mut self) -> PersonId {
        self.people[self.rng.random_range(0..self.people.len())]
    }
}

fn commit(doc: &mut AutoCommit, at: Timestamp) {
    doc.commit_with(CommitOptions::default().with_time(at.seconds()));
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Generates `spec` into the data dir of `core` (in a new cohort space; journal entries in
/// the personal space), writing in batches of 500 documents per transaction.
pub fn generate(core: &mut Core, spec: &Spec) -> Result<Generated, BoxError> {
    let space = core.create_cohort("Generated cohort", "A cohort of generated data")?;
    let personal = core.personal_space();
    let mut g = Gen {
        rng: StdRng::seed_from_u64(spec.seed),
        counter: spec.seed << 32,
        actor: ActorId::from(&spec.seed.to_be_bytes()[..]),
        people: Vec::new(),
        now: EPOCH.millis(),
    };
    for _ in 0..30 {
        let p = PersonId::from_bytes(g.id());
        g.people.push(p);
    }
    let mut out = Generated {
        space: Some(space),
        ..Generated::default()
    };
    let mut pending: Vec<Vec<u8>> = Vec::new();
    let flush = |core: &mut Core, pending: &mut Vec<Vec<u8>>| -> Result<(), BoxError> {
        let refs: Vec<&[u8]> = pending.iter().map(Vec::as_slice).collect();
        core.import_batch(&refs)?;
        pending.clear();
        Ok(())
    };

    for c in 0..spec.courses {
        let course_id = DocId::from_bytes(g.id());
        let author = g.person();
        let at = g.tick();
        let mut course = g.doc();
        Course::create(
            &mut course,
            &NewCourse {
                id: course_id,
                space,
                title: &format!("Course {}: {}", c + 1, sentence(&mut g.rng)),
                summary: &sentence(&mut g.rng),
                created_by: author,
                created_at: at,
            },
        )?;
        let module = ItemId::from_bytes(g.id());
        Course::add_module(&mut course, module, "Module 1", None)?;
        for l in 0..spec.lessons_per_course {
            let lesson_id = DocId::from_bytes(g.id());
            let body = markdown(&mut g.rng, spec.lesson_bytes);
            let mut lesson = g.doc();
            Lesson::create(
                &mut lesson,
                &NewLesson {
                    id: lesson_id,
                    space,
                    course: course_id,
                    title: &format!("Lesson {}.{}", c + 1, l + 1),
                    body: &body,
                    created_by: author,
                    created_at: at,
                },
            )?;
            commit(&mut lesson, at);
            pending.push(lesson.save());
            Course::place_lesson(&mut course, module, lesson_id, None)?;
            out.lessons.push(lesson_id);
        }
        commit(&mut course, at);
        pending.push(course.save());
        out.courses.push(course_id);
        if pending.len() >= 500 {
            flush(core, &mut pending)?;
        }
    }

    for t in 0..spec.threads {
        let lesson = (!out.lessons.is_empty() && g.rng.random_bool(0.6))
            .then(|| out.lessons[g.rng.random_range(0..out.lessons.len())]);
        let posts = g
            .rng
            .random_range(spec.posts_min..=spec.posts_max.max(spec.posts_min));
        let id = build_thread(&mut g, space, lesson, posts, &format!("Thread {t}"))?;
        pending.push(id.1);
        out.threads.push(id.0);
        out.posts += posts;
        if pending.len() >= 500 {
            flush(core, &mut pending)?;
        }
    }

    for (count, journal) in [(spec.notes, false), (spec.journal, true)] {
        for i in 0..count {
            let id = DocId::from_bytes(g.id());
            let at = g.tick();
            let body = markdown(&mut g.rng, 800);
            let title = format!(
                "{} {i}: {}",
                if journal { "Entry" } else { "Note" },
                sentence(&mut g.rng)
            );
            let new = NewText {
                id,
                space: if journal { personal } else { space },
                title: &title,
                body: &body,
                tags: &["generated".to_owned()],
                created_by: g.people[0],
                created_at: at,
                origin: None,
            };
            let mut doc = g.doc();
            if journal {
                JournalEntry::create(&mut doc, &new)?;
                out.journal.push(id);
            } else {
                Note::create(&mut doc, &new)?;
                out.notes.push(id);
            }
            commit(&mut doc, at);
            pending.push(doc.save());
            if pending.len() >= 500 {
                flush(core, &mut pending)?;
            }
        }
    }
    flush(core, &mut pending)?;
    Ok(out)
}

fn build_thread(
    g: &mut Gen,
    space: SpaceId,
    lesson: Option<DocId>,
    posts: usize,
    title: &str,
) -> Result<(DocId, Vec<u8>), BoxError> {
    let id = DocId::from_bytes(g.id());
    let author = g.person();
    let at = g.tick();
    let first = ItemId::from_bytes(g.id());
    let body = format!("{} {}", sentence(&mut g.rng), sentence(&mut g.rng));
    let mut doc = g.doc();
    Thread::create(
        &mut doc,
        &NewThread {
            id,
            space,
            kind: ThreadKind::Question,
            title: &format!("{title}: {}", sentence(&mut g.rng)),
            lesson,
            anchor: None,
            first_post: NewPost {
                id: first,
                author,
                body: &body,
                at,
                reply_to: None,
            },
        },
    )?;
    commit(&mut doc, at);
    for _ in 1..posts {
        let at = g.tick();
        let post = ItemId::from_bytes(g.id());
        let body = format!("{} {}", sentence(&mut g.rng), sentence(&mut g.rng));
        let author = g.person();
        Thread::reply(
            &mut doc,
            &NewPost {
                id: post,
                author,
                body: &body,
                at,
                reply_to: None,
            },
        )?;
        commit(&mut doc, at);
    }
    Ok((id, doc.save()))
}

/// Imports one thread with `posts` posts (one change per post, as people write them) into
/// `space`, and returns its id.
pub fn thread_with_posts(
    core: &mut Core,
    space: SpaceId,
    posts: usize,
    seed: u64,
) -> Result<DocId, BoxError> {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        counter: seed << 40,
        actor: ActorId::from(&seed.to_be_bytes()[..]),
        people: vec![PersonId::from_bytes([9; 16])],
        now: EPOCH.millis(),
    };
    let (id, bytes) = build_thread(&mut g, space, None, posts, "Long thread")?;
    core.import_automerge(&bytes)?;
    Ok(id)
}
