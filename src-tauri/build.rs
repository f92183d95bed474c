//! Generates the Tauri context (config, icons, capabilities) and the permissions for the app
//! commands (`call`, `startup`), so a capability must name `allow-call` / `allow-startup`
//! before the UI may invoke them.
//!
//! The UI is embedded from `../ui/dist` (built by `npm --prefix ui run build`, which
//! `tauri build` runs first). When it has not been built, as in a Rust-only check
//! (`cargo clippy --workspace`), the app embeds a one-page placeholder that says how to build
//! the UI instead of failing to compile; cargo prints a warning.

use std::path::{Path, PathBuf};

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Cohort</title></head>
<body style="font-family: sans-serif; margin: 3rem">
<h1>Cohort</h1>
<p>This build of the desktop app has no user interface: it was compiled before the UI was
built. Build the UI with <code>npm --prefix ui install &amp;&amp; npm --prefix ui run build</code>,
then build the app again (or run <code>scripts/run-desktop.sh</code>).</p>
</body>
</html>
"#;

fn main() {
    if let Err(e) = run() {
        println!("cargo::error=cohort-desktop build script: {e}");
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let ui_index = manifest_dir.join("../ui/dist/index.html");
    // Rebuild (and re-embed) when the UI is built or rebuilt.
    println!("cargo::rerun-if-changed={}", ui_index.display());
    if !ui_index.exists() {
        let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
        let dist = placeholder(&out_dir)?;
        // The same override `tauri` reads: merged into tauri.conf.json by the context macro.
        let mut config: serde_json::Value = match std::env::var("TAURI_CONFIG") {
            Ok(text) if !text.trim().is_empty() => serde_json::from_str(&text)?,
            _ => serde_json::json!({}),
        };
        config["build"]["frontendDist"] = serde_json::Value::from(dist.display().to_string());
        println!("cargo::rustc-env=TAURI_CONFIG={config}");
        println!(
            "cargo::warning=ui/dist is not built: this cohort-desktop embeds a placeholder page \
             (build the UI with `npm --prefix ui run build`)"
        );
    }
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(&["call", "startup"]));
    tauri_build::try_build(attributes)?;
    Ok(())
}

fn placeholder(out_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = out_dir.join("ui-placeholder");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("index.html"), PLACEHOLDER)?;
    Ok(dir)
}
