//! Opening a data dir: new, existing, or something that is not ours.

mod common;

use std::path::Path;
use std::process::Command;

use cohort_store::{APPLICATION_ID, SCHEMA_VERSION, Store, StoreError};
use common::{TempStore, TestResult};
use rstest::rstest;

#[test]
fn a_new_data_dir_gets_the_latest_schema_and_reopening_changes_nothing() -> TestResult {
    let t = TempStore::new()?;
    assert_eq!(t.store.schema_version()?, SCHEMA_VERSION);
    t.store.integrity_check()?;
    let t = t.reopen()?;
    let t = t.reopen()?;
    assert_eq!(
        t.store.schema_version()?,
        SCHEMA_VERSION,
        "reopen is idempotent"
    );
    let conn = rusqlite::Connection::open(t.path())?;
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    assert_eq!(app, APPLICATION_ID, "the file is marked as Cohort's");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_eq!(mode, "wal");
    Ok(())
}

#[rstest]
#[case::text_file(b"hello, this is not a database at all, just some text that goes on".repeat(100))]
#[case::random_bytes((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect())]
#[case::truncated_header(b"SQLite format 3\0".to_vec())]
fn a_file_that_is_not_sqlite_is_refused(#[case] bytes: Vec<u8>) -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("cohort.sqlite3");
    std::fs::write(&path, &bytes)?;
    let err = Store::open(&path).err().ok_or("garbage must not open")?;
    assert!(
        matches!(
            err,
            StoreError::NotADatabase { .. } | StoreError::Corrupt { .. }
        ),
        "got {err:?}"
    );
    assert_eq!(
        std::fs::read(&path)?,
        bytes,
        "the file must be left untouched"
    );
    Ok(())
}

#[rstest]
#[case::someone_elses_tables("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL);")]
#[case::someone_elses_application_id("PRAGMA application_id = 1234;")]
fn another_applications_database_is_refused(#[case] sql: &str) -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("cohort.sqlite3");
    rusqlite::Connection::open(&path)?.execute_batch(sql)?;
    let err = Store::open(&path).err().ok_or("foreign db must not open")?;
    assert!(matches!(err, StoreError::Foreign { .. }), "got {err:?}");
    assert_eq!(err.code(), "store_foreign");
    Ok(())
}

#[test]
fn a_database_from_a_newer_cohort_is_refused() -> TestResult {
    let t = TempStore::new()?;
    let path = t.path();
    drop(t.store);
    rusqlite::Connection::open(&path)?
        .execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))?;
    let err = Store::open(&path)
        .err()
        .ok_or("newer schema must not open")?;
    assert!(
        matches!(err, StoreError::NewerSchema { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "got {err:?}"
    );
    Ok(())
}

/// Makes `path` immutable with `chattr +i` (which stops even root) and undoes it on drop.
struct Immutable<'a>(&'a Path);

impl<'a> Immutable<'a> {
    fn set(path: &'a Path) -> Option<Immutable<'a>> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .ok()?
            .success();
        ok.then_some(Immutable(path))
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

#[test]
fn a_read_only_data_dir_is_reported_with_its_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let Some(_guard) = Immutable::set(dir.path()) else {
        eprintln!("skipped: chattr +i is not available here");
        return Ok(());
    };
    let path = dir.path().join("cohort.sqlite3");
    let err = Store::open(&path)
        .err()
        .ok_or("an unwritable dir must not open")?;
    assert!(
        matches!(&err, StoreError::ReadOnly { path: p } if *p == path),
        "got {err:?}"
    );
    assert_eq!(err.code(), "store_read_only");
    Ok(())
}

#[test]
fn a_read_only_database_file_is_reported_and_its_data_kept() -> TestResult {
    let mut t = TempStore::new()?;
    t.store.kv_set("k", b"v")?;
    let path = t.path();
    drop(t.store);
    let Some(_guard) = Immutable::set(&path) else {
        eprintln!("skipped: chattr +i is not available here");
        return Ok(());
    };
    let err = Store::open(&path)
        .err()
        .ok_or("an unwritable file must not open")?;
    assert!(
        matches!(&err, StoreError::ReadOnly { path: p } if *p == path),
        "got {err:?}"
    );
    drop(_guard);
    assert_eq!(
        Store::open(&path)?.kv_get("k")?,
        Some(b"v".to_vec()),
        "data survives"
    );
    Ok(())
}

#[rstest]
#[case::not_a_db(rusqlite::ffi::SQLITE_NOTADB, "store_not_a_database")]
#[case::corrupt(rusqlite::ffi::SQLITE_CORRUPT, "store_corrupt")]
#[case::full(rusqlite::ffi::SQLITE_FULL, "store_disk_full")]
#[case::read_only(rusqlite::ffi::SQLITE_READONLY, "store_read_only")]
#[case::read_only_directory(rusqlite::ffi::SQLITE_READONLY_DIRECTORY, "store_read_only")]
#[case::cant_open(rusqlite::ffi::SQLITE_CANTOPEN, "store_read_only")]
#[case::busy(rusqlite::ffi::SQLITE_BUSY, "store_busy")]
#[case::busy_snapshot(rusqlite::ffi::SQLITE_BUSY_SNAPSHOT, "store_busy")]
#[case::other(rusqlite::ffi::SQLITE_MISMATCH, "store_sqlite")]
fn sqlite_error_codes_map_to_actionable_errors(#[case] code: i32, #[case] expected: &str) {
    let err = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
    let mapped = StoreError::from_sqlite(err, Path::new("/data/cohort.sqlite3"));
    assert_eq!(mapped.code(), expected, "{mapped:?}");
    assert!(!mapped.to_string().is_empty());
}
