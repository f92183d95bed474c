//! Shared helpers for the end-to-end tests of the `cohort` binary: a temporary data dir,
//! running one command, and a guard that kills a spawned process however the test ends;
//! [`node`] runs `cohort serve` peers and reads what they hold, [`netns`] builds networks of
//! Linux network namespaces for them.

#![allow(
    dead_code,
    reason = "each test file uses a different subset of these helpers"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

use serde_json::Value;

pub mod netns;
pub mod node;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cohort")
}

/// A `cohort` command with everything that could leak in from the environment removed.
pub fn command(data_dir: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("COHORT_DATA_DIR")
        .env_remove("COHORT_LOG")
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null());
    cmd
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The arguments (after `--data-dir DIR`), for failure messages.
    pub args: Vec<String>,
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    pub fn from_output(args: &[&str], out: Output) -> Run {
        Run {
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Panics with the whole run unless it exited with `code`.
    pub fn expect_code(&self, code: i32, why: &str) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{why}: `cohort {}` should exit {code}\nstdout: {}\nstderr: {}",
            self.args.join(" "),
            self.stdout,
            self.stderr
        );
        self
    }

    /// Standard output parsed as JSON (panics, showing it, if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`cohort {}` should print JSON ({e}); it printed:\n{}\nstderr: {}",
                self.args.join(" "),
                self.stdout,
                self.stderr
            )
        })
    }

    /// Standard error parsed as the `--json` error shape `{"error":{"code","message"}}`.
    pub fn json_error(&self) -> Value {
        let line = self
            .stderr
            .lines()
            .rfind(|l| l.starts_with('{'))
            .unwrap_or_else(|| {
                panic!(
                    "`cohort {}` should report a JSON error on stderr; stderr was:\n{}",
                    self.args.join(" "),
                    self.stderr
                )
            });
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the error line {line:?} should be JSON: {e}"));
        value
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("the error line {line:?} should be {{\"error\":...}}"))
    }
}

/// A user of one data dir.
#[derive(Debug)]
pub struct Cohort {
    /// The data dir.
    pub dir: PathBuf,
    /// The network namespace every command of this user runs in (`ip netns exec`), if any.
    pub netns: Option<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl Cohort {
    /// A fresh data dir inside a new temporary directory.
    pub fn fresh() -> Cohort {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temp dir: {e}"));
        Cohort {
            dir: tmp.path().join("data"),
            netns: None,
            _tmp: Some(tmp),
        }
    }

    /// A data dir at a given path (owned by someone else's temp dir, or none at all).
    pub fn at(dir: impl Into<PathBuf>) -> Cohort {
        Cohort {
            dir: dir.into(),
            netns: None,
            _tmp: None,
        }
    }

    /// The same user, with every command (and node) run inside network namespace `ns`.
    pub fn in_netns(mut self, ns: &str) -> Cohort {
        self.netns = Some(ns.to_owned());
        self
    }

    /// A `cohort` command on this data dir (inside this user's namespace, if any), with
    /// everything that could leak in from the environment removed.
    pub fn command(&self) -> Command {
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns.as_str(), bin()]);
                c
            }
            None => Command::new(bin()),
        };
        cmd.env_remove("COHORT_DATA_DIR")
            .env_remove("COHORT_LOG")
            .arg("--data-dir")
            .arg(&self.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.dir.join("cohort.sqlite3")
    }

    /// Runs `cohort --data-dir DIR ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self
            .command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin()));
        Run::from_output(args, out)
    }

    /// Runs a command that must succeed.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.expect_code(0, "this step of the story must succeed");
        run
    }

    /// Runs a command with `--json` that must succeed, and returns its output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ok(&all).json()
    }

    /// Runs a creating command with `--json` and returns the new id.
    pub fn create(&self, args: &[&str]) -> String {
        let value = self.json(args);
        value["id"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "`cohort {}` should print {{\"id\":...}}, got {value}",
                    args.join(" ")
                )
            })
            .to_owned()
    }

    /// Spawns `cohort batch` with piped standard input and output; standard error goes to
    /// `stderr_file` so a failing test can show it.
    pub fn batch(&self, stderr_file: &Path) -> Batch {
        let stderr = std::fs::File::create(stderr_file)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", stderr_file.display()));
        let mut child = self
            .command()
            .arg("batch")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `cohort batch`: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        Batch {
            guard: KillOnDrop(Some(child)),
            stdin,
            stdout,
        }
    }
}

/// Kills (SIGKILL) and reaps the child when dropped, so no test leaves a process behind,
/// even when it fails half way.
#[derive(Debug)]
pub struct KillOnDrop(pub Option<Child>);

impl KillOnDrop {
    /// The process id.
    pub fn pid(&self) -> nix::unistd::Pid {
        let child = self
            .0
            .as_ref()
            .unwrap_or_else(|| panic!("the process was already reaped"));
        nix::unistd::Pid::from_raw(
            i32::try_from(child.id()).unwrap_or_else(|_| panic!("pid out of range")),
        )
    }

    /// Sends SIGKILL and waits for the process to be gone; returns how it ended.
    pub fn sigkill(&mut self) -> std::process::ExitStatus {
        let mut child = self
            .0
            .take()
            .unwrap_or_else(|| panic!("the process was already reaped"));
        let pid = nix::unistd::Pid::from_raw(
            i32::try_from(child.id()).unwrap_or_else(|_| panic!("pid out of range")),
        );
        // The process may have exited on its own already (a zombie still takes the signal).
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        child
            .wait()
            .unwrap_or_else(|e| panic!("cannot reap the killed process: {e}"))
    }

    /// Waits for the process to exit on its own.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let mut child = self
            .0
            .take()
            .unwrap_or_else(|| panic!("the process was already reaped"));
        child
            .wait()
            .unwrap_or_else(|e| panic!("cannot wait for the process: {e}"))
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running `cohort batch`.
#[derive(Debug)]
pub struct Batch {
    /// The process (killed when this is dropped).
    pub guard: KillOnDrop,
    /// Its standard input (dropping it sends end-of-file).
    pub stdin: Option<ChildStdin>,
    /// Its standard output.
    pub stdout: Option<BufReader<ChildStdout>>,
}

impl Batch {
    /// Sends one command and reads its answer line.
    pub fn call(&mut self, words: &[&str]) -> Value {
        let stdin = self
            .stdin
            .as_mut()
            .unwrap_or_else(|| panic!("stdin was closed"));
        let line = serde_json::to_string(words).unwrap_or_else(|e| panic!("cannot encode: {e}"));
        writeln!(stdin, "{line}").unwrap_or_else(|e| panic!("cannot write to batch: {e}"));
        stdin
            .flush()
            .unwrap_or_else(|e| panic!("cannot flush batch input: {e}"));
        let stdout = self
            .stdout
            .as_mut()
            .unwrap_or_else(|| panic!("stdout was taken"));
        let mut answer = String::new();
        let n = stdout
            .read_line(&mut answer)
            .unwrap_or_else(|e| panic!("cannot read the batch answer: {e}"));
        assert!(n > 0, "batch closed its output instead of answering {line}");
        serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("the batch answer {answer:?} should be JSON: {e}"))
    }
}
