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

/// What the playground's request checks did in this test, as
/// `limits/<emulator>/<test>.json` (libtest names a test's thread after
/// it), replacing the last run's: `scripts/reliability-report` sums them.
pub fn record_checks(
    emulator: cpsf_playground::Emulator,
    report: &cpsf_playground::proxy::ChecksReport,
) {
    let Some(test) = std::thread::current().name().map(|n| n.replace("::", "-")) else {
        return;
    };
    let dir = dir().join("limits").join(emulator.to_string());
    // Best effort: a figure is not worth failing a test for.
    let _ = std::fs::create_dir_all(&dir);
    let figures = serde_json::json!({
        "checked": report.checked,
        "refused": report.refused,
        "by_service": report.checked_by_service,
    });
    let _ = std::fs::write(dir.join(format!("{test}.json")), figures.to_string());
}
