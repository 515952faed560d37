//! Figures the reliability tests measured, kept for `scripts/reliability-report`:
//! one JSON file per test under `target/tmp/reliability/`.

use std::path::PathBuf;

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reliability")
}

/// Writes `figures` as `<name>.json`, replacing the last run's.
pub fn record(name: &str, figures: serde_json::Value) {
    let dir = dir();
    std::fs::create_dir_all(&dir).expect("create the figures directory");
    let text = serde_json::to_string_pretty(&figures).expect("figures serialize");
    std::fs::write(dir.join(format!("{name}.json")), text).expect("write figures");
}
