//! Measures on-disk cost of FTS5 layouts against Automerge `save()` sizes on generated
//! Markdown-ish English text. Run: `cargo run --release -p cohort-store --example fts_size`.
#![allow(missing_docs)]

use std::error::Error;
use std::io::Write;

#[path = "support/textgen.rs"]
mod textgen;
use textgen::{Rng, thread_doc};

fn main() -> Result<(), Box<dyn Error>> {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut docs = Vec::new();
    let mut saved = 0usize;
    let mut text = 0usize;
    for _ in 0..threads {
        let d = thread_doc(&mut rng)?;
        saved += d.0.len();
        text += d.1.len() + d.2.iter().map(|p| p.1.len()).sum::<usize>();
        docs.push(d);
    }
    let rows: usize = docs.iter().map(|d| d.2.len()).sum();
    println!(
        "{threads} docs, {rows} posts, raw text {text} B, sum save() {saved} B ({:.2} of text)",
        saved as f64 / text as f64
    );
    let variants: &[(&str, &str)] = &[
        ("none (docs only)", ""),
        (
            "content, detail=full",
            "CREATE VIRTUAL TABLE f USING fts5(title, body, tokenize='unicode61 remove_diacritics 2');",
        ),
        (
            "content, detail=column",
            "CREATE VIRTUAL TABLE f USING fts5(title, body, detail=column, tokenize='unicode61 remove_diacritics 2');",
        ),
        (
            "contentless_delete, full",
            "CREATE VIRTUAL TABLE f USING fts5(title, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');",
        ),
        (
            "contentless_delete, column",
            "CREATE VIRTUAL TABLE f USING fts5(title, body, content='', contentless_delete=1, detail=column, tokenize='unicode61 remove_diacritics 2');",
        ),
        (
            "contentless_delete, none",
            "CREATE VIRTUAL TABLE f USING fts5(title, body, content='', contentless_delete=1, detail=none, tokenize='unicode61 remove_diacritics 2');",
        ),
        (
            "contentless_delete, full + deflated text",
            "CREATE VIRTUAL TABLE f USING fts5(title, body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'); CREATE TABLE z(id INTEGER PRIMARY KEY, t BLOB);",
        ),
    ];
    for (name, ddl) in variants {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("m.sqlite3");
        let mut conn = rusqlite::Connection::open(&path)?;
        let page: u32 = std::env::var("PAGE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4096);
        conn.execute_batch(&format!("PRAGMA page_size={page}; PRAGMA journal_mode=WAL; CREATE TABLE d(id INTEGER PRIMARY KEY, snap BLOB); {ddl}"))?;
        let tx = conn.transaction()?;
        let mut rowid = 0i64;
        for (i, (snap, title, parts)) in docs.iter().enumerate() {
            tx.execute(
                "INSERT INTO d VALUES(?1, ?2)",
                rusqlite::params![i as i64, snap],
            )?;
            if ddl.is_empty() {
                continue;
            }
            for (_, body) in parts {
                rowid += 1;
                tx.execute(
                    "INSERT INTO f(rowid, title, body) VALUES(?1, ?2, ?3)",
                    rusqlite::params![rowid, title, body],
                )?;
                if ddl.contains("z(") {
                    let mut e = flate2::write::DeflateEncoder::new(
                        Vec::new(),
                        flate2::Compression::default(),
                    );
                    e.write_all(body.as_bytes())?;
                    tx.execute(
                        "INSERT INTO z VALUES(?1, ?2)",
                        rusqlite::params![rowid, e.finish()?],
                    )?;
                }
            }
        }
        tx.commit()?;
        if !ddl.is_empty() {
            conn.execute_batch("INSERT INTO f(f) VALUES('optimize');")?;
        }
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")?;
        let size: i64 = conn.query_row(
            "SELECT page_count*page_size FROM pragma_page_count, pragma_page_size",
            [],
            |r| r.get(0),
        )?;
        println!(
            "{name:45} db {size:>10} B  ratio to save(): {:.2}",
            size as f64 / saved as f64
        );
    }
    Ok(())
}
