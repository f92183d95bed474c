//! Keeps the committed TypeScript bindings (`ui/src/lib/bindings/`) equal to what the Rust
//! types and the command table generate. On a mismatch it lists the stale files; run
//!
//! ```text
//! UPDATE_BINDINGS=1 cargo test -p cohort-api --test bindings
//! ```
//!
//! to rewrite the folder (files that are no longer generated are removed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

type Files = BTreeMap<String, String>;

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/bindings")
}

/// Every file under `dir`, as `/`-separated relative path -> content.
fn read_tree(dir: &Path) -> std::io::Result<Files> {
    fn walk(root: &Path, dir: &Path, out: &mut Files) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let relative = path
                    .strip_prefix(root)
                    .map_err(std::io::Error::other)?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                // A file that is not UTF-8 text is stale by definition.
                let text = std::fs::read(&path)
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())?;
                out.insert(relative, text);
            }
        }
        Ok(())
    }
    let mut out = Files::new();
    if dir.exists() {
        walk(dir, dir, &mut out)?;
    }
    Ok(out)
}

fn write_tree(dir: &Path, files: &Files) -> std::io::Result<()> {
    for (relative, text) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// The files that differ: missing, stale or extra, each with why.
fn differences(expected: &Files, actual: &Files) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in expected {
        match actual.get(path) {
            None => out.push(format!("{path} (missing)")),
            Some(found) if found != text => out.push(format!("{path} (stale)")),
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        out.push(format!("{path} (not generated: remove it)"));
    }
    out
}

/// Rewrites `dir` to hold exactly `files`.
fn update(dir: &Path, files: &Files) -> std::io::Result<()> {
    for stale in read_tree(dir)?.keys().filter(|p| !files.contains_key(*p)) {
        std::fs::remove_file(dir.join(stale))?;
    }
    write_tree(dir, files)?;
    // Remove folders the removals left empty (deepest first).
    let mut dirs = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path.clone());
                dirs.push(path);
            }
        }
    }
    for d in dirs.iter().rev() {
        if std::fs::read_dir(d)?.next().is_none() {
            std::fs::remove_dir(d)?;
        }
    }
    Ok(())
}

#[test]
fn committed_bindings_are_fresh() -> Result<(), Box<dyn std::error::Error>> {
    let generated = cohort_api::typescript_bindings()?;

    // Generate into a temporary folder and read it back, as a checkout would hold them.
    let temp = tempfile::tempdir()?;
    write_tree(temp.path(), &generated)?;
    let expected = read_tree(temp.path())?;
    assert_eq!(
        expected, generated,
        "the generated files must survive a write and read"
    );

    let dir = committed_dir();
    if std::env::var_os("UPDATE_BINDINGS").is_some_and(|v| v == "1") {
        update(&dir, &expected)?;
    }
    let stale = differences(&expected, &read_tree(&dir)?);
    assert!(
        stale.is_empty(),
        "the TypeScript bindings in {} are out of date:\n  {}\nRun `UPDATE_BINDINGS=1 cargo test -p cohort-api --test bindings` to rewrite them.",
        dir.display(),
        stale.join("\n  ")
    );
    Ok(())
}

#[test]
fn every_generated_type_is_exported_by_the_index_and_imports_resolve() {
    let files = cohort_api::typescript_bindings().expect("bindings");
    let index = &files["index.ts"];
    for (path, text) in &files {
        if path == "index.ts" {
            continue;
        }
        let module = format!("\"./{}\"", path.trim_end_matches(".ts"));
        assert!(
            index.contains(&module),
            "index.ts does not re-export {path}"
        );
        // Each relative import names a generated file.
        for line in text.lines().filter(|l| l.starts_with("import type")) {
            let target = line
                .rsplit_once(" from \"")
                .map(|(_, t)| t.trim_end_matches("\";"))
                .expect("import path");
            let base = Path::new(path).parent().unwrap_or(Path::new(""));
            let mut resolved = PathBuf::new();
            for part in base.join(format!("{target}.ts")).components() {
                match part {
                    std::path::Component::ParentDir => {
                        resolved.pop();
                    }
                    std::path::Component::CurDir => {}
                    other => resolved.push(other),
                }
            }
            let resolved = resolved.to_string_lossy().replace('\\', "/");
            assert!(
                files.contains_key(&resolved),
                "{path}: {line} -> {resolved}"
            );
        }
    }
    for name in [
        "ApiError",
        "ErrorCode",
        "ChangeEvent",
        "EventMessage",
        "Commands",
        "DocId",
    ] {
        assert!(
            index.contains(&format!("{{ {name} }}")),
            "index.ts lacks {name}"
        );
    }
}

#[test]
fn a_stale_folder_is_reported_and_updated() -> Result<(), Box<dyn std::error::Error>> {
    let files: Files = [
        ("A.ts".to_owned(), "a".to_owned()),
        ("sub/B.ts".to_owned(), "b".to_owned()),
    ]
    .into();
    let dir = tempfile::tempdir()?;
    write_tree(
        dir.path(),
        &[
            ("A.ts".to_owned(), "old".to_owned()),
            ("gone/C.ts".to_owned(), "c".to_owned()),
        ]
        .into(),
    )?;
    assert_eq!(
        differences(&files, &read_tree(dir.path())?),
        [
            "A.ts (stale)",
            "sub/B.ts (missing)",
            "gone/C.ts (not generated: remove it)"
        ]
    );
    update(dir.path(), &files)?;
    assert_eq!(read_tree(dir.path())?, files);
    assert!(!dir.path().join("gone").exists());
    Ok(())
}
