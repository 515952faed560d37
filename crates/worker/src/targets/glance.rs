//! Where a running rollout is, for the pipeline's summary while it runs
//! (pure): read from the newest progress a task returned.

use super::plan::progress_summary;
use super::rollout::progress_in;
use serde_json::Value;

/// Where a running rollout is, read from the newest plan or progress a
/// task returned (`history::failure::read_newest` finds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glance {
    /// The index of the wave deploying, or of the wave the bake is before.
    pub wave: usize,
    pub waves: usize,
    /// Baking after wave `wave` (1-based), before wave `wave + 1`.
    pub baking: bool,
    /// The wave's targets and what is known of each: "deploying" until
    /// the worker looks at its stack (`job/handle/target_status.rs`).
    pub targets: Vec<(String, String)>,
}

impl Glance {
    /// What the pipeline shows: "wave 2/3: prod-use1 UPDATE_IN_PROGRESS,
    /// prod-euw1 deploying", or the bake.
    pub fn summary(&self) -> String {
        if self.baking {
            return format!(
                "wave {}/{} deployed; baking before wave {}",
                self.wave,
                self.waves,
                self.wave + 1
            );
        }
        progress_summary(self.wave + 1, self.waves, &self.targets)
    }

    /// The targets whose live status is worth a look: the wave's, while
    /// it deploys.
    pub fn deploying(&self) -> Vec<String> {
        if self.baking {
            return Vec::new();
        }
        self.targets.iter().map(|(name, _)| name.clone()).collect()
    }
}

/// The glance an output gives, or None for an output that is neither a
/// plan nor a progress (or a finished one).
pub fn glance(output: &str) -> Option<Glance> {
    // The worker asks this of every task output in the newest history page
    // each time it checks a running execution; a single deploy's outputs
    // never hold the progress's `next`, so they are not parsed.
    if !output.contains("\"next\"") {
        return None;
    }
    let value: Value = serde_json::from_str(output).ok()?;
    let progress = progress_in(&value)?;
    if progress.waves == 0 || progress.done {
        return None;
    }
    Some(Glance {
        wave: progress.wave,
        waves: progress.waves,
        baking: progress.bake,
        targets: progress
            .next
            .into_iter()
            .map(|name| (name, "deploying".to_string()))
            .collect(),
    })
}
