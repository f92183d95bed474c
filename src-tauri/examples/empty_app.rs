//! An empty Tauri 2 app (one window, one static page, no commands or plugins), built with
//! the same tauri version, features and profile as the desktop app: the baseline the
//! desktop benchmark (`tests/desktop/bench.mjs`) measures side by side for startup time
//! and idle memory.
//!
//!     cargo build --release -p cohort-desktop --example empty_app --features bench-baseline,tauri/custom-protocol

use std::process::ExitCode;

#[allow(
    clippy::disallowed_methods,
    reason = "the code tauri generates here calls std::process::exit"
)]
fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!("examples/empty_app/tauri.conf.json")
}

fn main() -> ExitCode {
    match tauri::Builder::default().run(context()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("empty_app: {e}");
            ExitCode::FAILURE
        }
    }
}
