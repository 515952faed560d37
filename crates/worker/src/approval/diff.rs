//! The template diff the approval page shows when it is small (pure): the
//! running template against the revision's, unified, three lines of
//! context. Left out when either template says `NoEcho` (a NoEcho
//! parameter's default would otherwise be on the page) or the diff is too
//! long to read on a page.

use similar::TextDiff;

/// The longest diff shown, in bytes.
pub const MAX_DIFF_BYTES: usize = 8 * 1024;

pub fn small(running: &str, revision: &str) -> Option<String> {
    if running.contains("NoEcho") || revision.contains("NoEcho") || running == revision {
        return None;
    }
    let diff = TextDiff::from_lines(running, revision)
        .unified_diff()
        .context_radius(3)
        .header("running", "revision")
        .to_string();
    (diff.len() <= MAX_DIFF_BYTES).then_some(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_change_is_a_unified_diff() {
        let running = "Resources:\n  WorkQueue:\n    Type: AWS::SQS::Queue\n";
        let revision = "Resources:\n  JobQueue:\n    Type: AWS::SQS::Queue\n";
        let diff = small(running, revision).unwrap();
        assert!(diff.starts_with("--- running\n+++ revision\n"), "{diff}");
        assert!(diff.contains("-  WorkQueue:\n+  JobQueue:\n"), "{diff}");
        assert_eq!(small(running, running), None, "nothing to show");
    }

    #[test]
    fn no_echo_or_a_long_diff_is_left_out() {
        let secret = "Parameters:\n  Password:\n    NoEcho: true\n    Default: hunter2\n";
        assert_eq!(small(secret, "Resources: {}\n"), None);
        let long: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(small("", &long), None);
    }
}
