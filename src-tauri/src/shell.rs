//! The shell's state: the open data dir, held as `Mutex<Api>` here and nowhere else.
//!
//! Every UI command goes through [`Shell::call`], which runs [`Api::call`] on a blocking
//! thread (SQLite and Automerge work never runs on the UI's main thread) and returns its
//! JSON result or its `{ code, message }` error unchanged.
//!
//! The data dir opens on a thread of its own while the window and its page start
//! ([`opening`]); a command that arrives first waits for it in [`Opening::shell`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cohort_api::{Api, ApiError, ApiResult, ChangeEvent, ErrorCode, OpenOptions};
use serde_json::Value;
use tokio::sync::{broadcast, watch};

/// The open data dir.
#[derive(Debug)]
pub struct Shell {
    api: Arc<Mutex<Api>>,
    root: PathBuf,
}

/// What opening the data dir came to: the shell, or why it could not open.
pub type Opened = ApiResult<Arc<Shell>>;

/// The data dir as commands see it: still opening, then open (or failed to open).
#[derive(Debug, Clone)]
pub struct Opening(watch::Receiver<Option<Opened>>);

/// A data dir still to be opened: the sender the opener reports through, and the
/// [`Opening`] that commands wait on. A sender dropped without a report (the opener
/// failed unexpectedly) fails the waiting commands instead of leaving them waiting.
pub fn opening() -> (watch::Sender<Option<Opened>>, Opening) {
    let (tx, rx) = watch::channel(None);
    (tx, Opening(rx))
}

impl Opening {
    /// The open shell, once the data dir is open; its error if it could not be opened.
    pub async fn shell(&self) -> Opened {
        let mut rx = self.0.clone();
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| never_opened())?;
        outcome.clone().unwrap_or_else(|| Err(never_opened()))
    }
}

fn never_opened() -> ApiError {
    ApiError {
        code: ErrorCode::Internal,
        message: "your data could not be opened; restart Cohort".to_owned(),
    }
}

/// What opening the data dir did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstRun {
    /// The data dir already held the person's own documents.
    No,
    /// Nothing but the new profile was there: the sample course was created.
    SampleCreated,
    /// Nothing was there, and the sample was not wanted.
    Empty,
}

impl Shell {
    /// Opens (creating on first run) the data dir; on a first launch with no documents,
    /// creates the built-in sample unless `sample` is false.
    pub fn open(root: &Path, sample: bool) -> ApiResult<(Shell, FirstRun)> {
        let mut api = Api::open(root, OpenOptions::default())?;
        let first_run = if is_empty(&mut api)? {
            if sample {
                api.create_sample()?;
                FirstRun::SampleCreated
            } else {
                FirstRun::Empty
            }
        } else {
            FirstRun::No
        };
        let shell = Shell {
            root: api.root().to_owned(),
            api: Arc::new(Mutex::new(api)),
        };
        Ok((shell, first_run))
    }

    /// The shared core, for the sync node (which runs over the same `Api`).
    pub fn api(&self) -> Arc<Mutex<Api>> {
        Arc::clone(&self.api)
    }

    /// The open data dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Subscribes to the core's change events.
    pub fn subscribe(&self) -> ApiResult<broadcast::Receiver<ChangeEvent>> {
        Ok(self.api.lock().map_err(|_| poisoned())?.subscribe())
    }

    /// Runs one command of the bridge contract off the calling thread.
    pub async fn call(&self, cmd: String, args: Value) -> ApiResult<Value> {
        let api = Arc::clone(&self.api);
        let task = tauri::async_runtime::spawn_blocking(move || {
            let asked = Instant::now();
            let mut api = api.lock().map_err(|_| poisoned())?;
            let started = Instant::now();
            let result = api.call(&cmd, args);
            tracing::debug!(
                "{cmd}: {:.1} ms (waited {:.1} ms for the data dir)",
                started.elapsed().as_secs_f64() * 1000.0,
                (started - asked).as_secs_f64() * 1000.0,
            );
            result
        });
        task.await.map_err(|e| ApiError {
            code: ErrorCode::Internal,
            message: format!("the command failed unexpectedly: {e}"),
        })?
    }
}

/// Whether the data dir holds nothing of the person's own yet: only the personal space,
/// and no courses or journal entries. (The sample adds a cohort, so deleting the sample
/// course later does not bring it back.)
fn is_empty(api: &mut Api) -> ApiResult<bool> {
    Ok(api.spaces()?.iter().all(|s| s.personal)
        && api.courses(None)?.is_empty()
        && api.journal()?.is_empty())
}

fn poisoned() -> ApiError {
    ApiError {
        code: ErrorCode::Internal,
        message: "an earlier command failed unexpectedly; restart Cohort".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    }

    #[test]
    fn the_first_launch_creates_the_sample_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (shell, first) = Shell::open(dir.path(), true).expect("opens");
        assert_eq!(first, FirstRun::SampleCreated);
        assert_eq!(shell.root(), dir.path());
        drop(shell);
        let (_shell, again) = Shell::open(dir.path(), true).expect("reopens");
        assert_eq!(again, FirstRun::No);
    }

    #[test]
    fn the_sample_can_be_declined() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (shell, first) = Shell::open(dir.path(), false).expect("opens");
        assert_eq!(first, FirstRun::Empty);
        let courses = runtime()
            .block_on(shell.call("courses".to_owned(), json!({})))
            .expect("lists");
        assert_eq!(courses, json!([]));
    }

    #[test]
    fn a_second_process_on_the_same_data_dir_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_shell, _) = Shell::open(dir.path(), false).expect("opens");
        let err = Shell::open(dir.path(), false).expect_err("locked");
        assert_eq!(err.code, ErrorCode::DataDirLocked);
    }

    #[test]
    fn calls_are_forwarded_with_results_and_errors_unchanged() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (shell, _) = Shell::open(dir.path(), true).expect("opens");
        let rt = runtime();
        let courses = rt
            .block_on(shell.call("courses".to_owned(), json!({})))
            .expect("lists");
        let list = courses.as_array().expect("an array");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["title"], json!("Learning together with Cohort"));

        let err = rt
            .block_on(shell.call("no_such_command".to_owned(), json!({})))
            .expect_err("unknown command");
        assert_eq!(err.code, ErrorCode::InvalidInput);
        let err = rt
            .block_on(shell.call("lesson".to_owned(), json!({ "id": "00".repeat(16) })))
            .expect_err("no such lesson");
        assert_eq!(err.code, ErrorCode::NotFound);
        let wire = serde_json::to_value(&err).expect("serializes");
        assert_eq!(wire["code"], json!("not_found"));
    }

    #[test]
    fn commands_wait_for_the_data_dir_and_get_its_error_if_it_fails() {
        let rt = runtime();
        let dir = tempfile::tempdir().expect("temp dir");
        let (tx, open) = opening();
        let waiting = rt.spawn({
            let open = open.clone();
            async move { open.shell().await.map(|s| s.root().to_owned()) }
        });
        rt.block_on(tokio::task::yield_now());
        assert!(
            !waiting.is_finished(),
            "a command waits while the data dir opens"
        );
        let (shell, _) = Shell::open(dir.path(), false).expect("opens");
        tx.send_replace(Some(Ok(Arc::new(shell))));
        let root = rt.block_on(waiting).expect("joins").expect("the shell");
        assert_eq!(root, dir.path());

        let (tx, open) = opening();
        tx.send_replace(Some(Err(ApiError {
            code: ErrorCode::DataDirLocked,
            message: "locked".to_owned(),
        })));
        let err = rt.block_on(open.shell()).expect_err("the open failed");
        assert_eq!(err.code, ErrorCode::DataDirLocked);

        let (tx, open) = opening();
        drop(tx);
        let err = rt.block_on(open.shell()).expect_err("never opened");
        assert_eq!(err.code, ErrorCode::Internal);
    }

    #[test]
    fn changes_made_through_calls_reach_subscribers() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (shell, _) = Shell::open(dir.path(), false).expect("opens");
        let mut rx = shell.subscribe().expect("subscribes");
        let rt = runtime();
        let entry = rt
            .block_on(shell.call(
                "add_journal".to_owned(),
                json!({ "title": "Day one", "body": "Started.", "tags": [] }),
            ))
            .expect("writes");
        let event = rx.try_recv().expect("an event");
        assert_eq!(json!(event.doc.to_string()), entry);
    }
}
