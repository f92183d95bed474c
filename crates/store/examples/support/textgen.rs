//! Generated Markdown-ish English text and thread documents, shared by the examples.
#![allow(dead_code)]

use std::error::Error;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT};

pub const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "word",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "time",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "write",
    "would",
    "like",
    "so",
    "these",
    "her",
    "long",
    "make",
    "thing",
    "see",
    "him",
    "two",
    "has",
    "look",
    "more",
    "day",
    "could",
    "go",
    "come",
    "did",
    "number",
    "sound",
    "no",
    "most",
    "people",
    "my",
    "over",
    "know",
    "water",
    "than",
    "call",
    "first",
    "who",
    "may",
    "down",
    "side",
    "been",
    "now",
    "find",
    "lesson",
    "module",
    "course",
    "learn",
    "practice",
    "exercise",
    "question",
    "answer",
    "think",
    "because",
    "example",
    "function",
    "variable",
    "loop",
    "recursion",
    "algorithm",
    "structure",
    "memory",
    "pointer",
    "compiler",
    "error",
    "test",
    "review",
    "notes",
    "reading",
    "chapter",
    "problem",
    "solution",
    "approach",
    "idea",
    "understand",
    "explain",
    "difference",
    "between",
    "therefore",
    "however",
    "interesting",
    "important",
    "remember",
    "before",
    "after",
    "during",
    "while",
    "should",
    "might",
    "must",
    "group",
    "cohort",
    "session",
    "week",
    "schedule",
    "milestone",
    "project",
    "deadline",
    "feedback",
    "draft",
    "paragraph",
    "sentence",
    "grammar",
    "vocabulary",
    "pronunciation",
    "photosynthesis",
    "chlorophyll",
    "mitochondria",
    "equation",
    "derivative",
    "integral",
    "theorem",
    "proof",
    "hypothesis",
    "experiment",
    "observation",
    "result",
    "conclusion",
];

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn word(&mut self) -> String {
        // Zipf-ish: favour early words; 3% rare synthetic words (names, typos, jargon).
        if self.below(100) < 3 {
            let len = 4 + self.below(6);
            return (0..len)
                .map(|_| (b'a' + self.below(26) as u8) as char)
                .collect();
        }
        let a = self.below(WORDS.len());
        let b = self.below(WORDS.len());
        WORDS[a.min(b)].to_string()
    }
    pub fn sentence(&mut self) -> String {
        let n = 6 + self.below(14);
        let mut s = String::new();
        for i in 0..n {
            let mut w = self.word();
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    w = f.to_uppercase().chain(c).collect();
                }
            }
            if self.below(30) == 0 {
                w = format!("`{w}`");
            } else if self.below(40) == 0 {
                w = format!("**{w}**");
            }
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&w);
            if self.below(12) == 0 && i + 1 < n {
                s.push(',');
            }
        }
        s.push_str(if self.below(6) == 0 { "?" } else { "." });
        s
    }
    pub fn markdown(&mut self, paragraphs: usize) -> String {
        let mut out = String::new();
        for p in 0..paragraphs {
            match self.below(8) {
                0 if p > 0 => {
                    let h = self.sentence();
                    out.push_str(&format!("## {h}\n\n"));
                }
                1 => {
                    for _ in 0..(2 + self.below(3)) {
                        let item = self.sentence();
                        out.push_str(&format!("- {item}\n"));
                    }
                    out.push('\n');
                    continue;
                }
                _ => {}
            }
            let n = 1 + self.below(4);
            let para: Vec<String> = (0..n).map(|_| self.sentence()).collect();
            out.push_str(&para.join(" "));
            out.push_str("\n\n");
        }
        out
    }
}

/// A generated thread: its `save()` bytes, its title and its posts as (part id, body).
pub type Thread = (Vec<u8>, String, Vec<(String, String)>);

/// One thread doc: title + posts, each post body an Automerge Text typed in a few splices.
pub fn thread_doc(rng: &mut Rng) -> Result<Thread, Box<dyn Error>> {
    let mut doc = AutoCommit::new();
    let title = rng.sentence();
    doc.put(ROOT, "title", title.as_str())?;
    let posts = doc.put_object(ROOT, "posts", ObjType::Map)?;
    let mut parts = Vec::new();
    for i in 0..(1 + rng.below(12)) {
        let post = doc.put_object(&posts, format!("p{i:04}"), ObjType::Map)?;
        doc.put(&post, "author", "0123456789abcdef0123456789abcdef")?;
        doc.put(&post, "time", 1_700_000_000_000_i64 + i as i64)?;
        let text = doc.put_object(&post, "body", ObjType::Text)?;
        let paragraphs = 1 + rng.below(4);
        let body = rng.markdown(paragraphs);
        // Typed in pieces, each its own commit, as an editor would.
        let mut at = 0;
        for piece in body.split_inclusive("\n\n") {
            doc.splice_text(&text, at, 0, piece)?;
            at += piece.encode_utf16().count();
            doc.commit();
        }
        parts.push((format!("p{i:04}"), body));
    }
    Ok((doc.save(), title, parts))
}
