//! An empty Tauri 2 app (one window, one static page, no plugins), built with the same tauri
//! version, features and profile as the desktop app: the baseline the desktop benchmark
//! (`tests/desktop/bench.mjs`) measures side by side for startup time and idle memory. Its
//! one command is the app's own `startup` report (the page's first paint, logged the same
//! way), so both apps are timed by the same code.
//!
//!     cargo build --release -p cohort-desktop --example empty_app --features bench-baseline,custom-protocol

#[path = "../src/startup.rs"]
mod startup;

use std::process::ExitCode;

#[allow(
    clippy::disallowed_methods,
    reason = "the code tauri generates here calls std::process::exit"
)]
fn context() -> tauri::Context<tauri::Wry> {
    tauri::generate_context!("examples/empty_app/tauri.conf.json")
}

fn main() -> ExitCode {
    startup::note_launch();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COHORT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    startup::phase("main");
    match tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![startup::startup])
        .setup(|_| {
            startup::phase("setup");
            Ok(())
        })
        .run(context())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("empty_app: {e}");
            ExitCode::FAILURE
        }
    }
}
