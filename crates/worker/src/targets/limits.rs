//! How much one Deploy action can roll out, and why: the AWS limits a
//! rollout meets, with the arithmetic. Compile-time assertions keep the
//! numbers consistent, and a unit test recomputes a target's events from
//! statemachines/deploy.asl.json, so a state added to a target's path
//! that breaks the budget fails a test rather than a long rollout.

use crate::base::limits::DEFAULT_TIMEOUT_SECONDS;
use crate::base::limits::{MAX_FAILURE_MESSAGE, MAX_OUTPUT_VARIABLES_CHARS};

/// The most targets one Deploy action deploys. Four limits meet here;
/// the tightest is the failure message.
///
/// 1. **The failure message.** A wave may hold every target, and when it
///    stops the rollout the message names each failed target within
///    CodePipeline's 5,000 characters (`job/limits.rs`): 100 × (40 + 2
///    separator) = 4,200, leaving 800 for what failed ([`MAX_NAME`]).
/// 2. **Output variables.** Each target adds `<name>_StackId` and
///    `<name>_Status`, at most [`VARIABLE_CHARS_PER_TARGET`] = 360
///    characters, so 100 targets take 36,000 of the action's 122,880
///    (CodePipeline user guide, "Quotas"; `job/limits.rs`), leaving 86,880
///    for `ExecutionArn`, `StateMachineArn` and the first target's stack
///    outputs as today (`job/outputs.rs` leaves out what does not fit).
/// 3. **Execution history.** An execution keeps at most 25,000 events (Step
///    Functions developer guide, "Quotas"). Each target runs in a child
///    execution with a history of its own (`rollout.rs`); in the rollout's
///    history a target costs at most [`EVENTS_PER_TARGET`], a wave at most
///    [`EVENTS_PER_WAVE`], the rollout's own states and bakes
///    [`EVENTS_PER_EXECUTION`]: with every target in its own wave, 100
///    targets need 100 × (30 + 40) + 300 = 7,300 events, far below.
///
/// 4. **The state's 256 KiB.** What the waves add to the rollout's state
///    is bounded per target (`budget.rs`: at most 470 bytes for a target
///    of the wave deploying, 768 for one of an earlier wave), so 100
///    targets in one wave that asks leave 127,900 bytes for the plan and
///    the wave's copy; PlanRollout checks each input's own.
///
/// More targets than this are refused before any deploy starts: split them
/// over several Deploy actions (one per stage, or per account group).
pub const MAX_TARGETS: usize = 100;

/// The longest target name. The output variable keys would allow 120
/// (keys ≤ 128, `job/outputs.rs`, minus `_StackId`), but a failure must
/// name each failed target of a wave within CodePipeline's 5,000-character
/// message (see [`MAX_TARGETS`]), and a target's child execution is named
/// `<target>-<16 hex digits>` within Step Functions' 80 (`rollout.rs`).
pub const MAX_NAME: usize = 40;

/// Step Functions' execution history quota (developer guide, "Quotas").
pub const HISTORY_EVENTS: usize = 25_000;

/// The events one target adds to the rollout's history: its Map iteration
/// (2: MapIterationStarted, MapIterationSucceeded), the DeployTarget task
/// that starts its child execution and waits for it (6: TaskStateEntered,
/// TaskScheduled, TaskStarted, TaskSubmitted, TaskSucceeded or TaskFailed,
/// TaskStateExited) with its retries (3 each), and the Pass a failed target
/// ends in (2). The test below recomputes it from the definition: 25, with
/// room to 30. The target's own path (checks, change set, waits) is in its
/// child execution's history.
pub const EVENTS_PER_TARGET: usize = 30;

/// A wave's own events: NextWave (2), the Map state (4: MapStateEntered,
/// MapStateStarted, MapStateSucceeded, MapStateExited), FinishWave with its
/// retries (14) and the Choice after it (2): 22, rounded up to 40.
pub const EVENTS_PER_WAVE: usize = 40;

/// The rollout's own: ExecutionStarted and its end (2), Route (2),
/// PlanRollout with its retries (14), RolloutDone (2), and the bakes: a
/// Bake task and its Choice (7) each hour of the 12 the bakes may take
/// together ([`MAX_TOTAL_BAKE_SECONDS`]), 84, with a retry each hour (36):
/// 140, rounded up to 300.
pub const EVENTS_PER_EXECUTION: usize = 300;

/// The longest `StackId` value: `arn:aws-us-gov:cloudformation:` (30),
/// a region and `:` (15), an account and `:` (13), `stack/` (6), a stack
/// name (≤ 128, CloudFormation API reference, CreateStack), `/` and a
/// UUID (37): 229, rounded up.
pub const MAX_STACK_ID: usize = 256;

/// The suffixes of each target's output variables.
pub const STACK_ID_SUFFIX: &str = "_StackId";
pub const STATUS_SUFFIX: &str = "_Status";

/// `<name>_StackId` and `<name>_Status`, keys and values, at their longest
/// (the status is `Succeeded` or `Failed`, `plan::output_variables`).
pub const VARIABLE_CHARS_PER_TARGET: usize = (MAX_NAME + STACK_ID_SUFFIX.len())
    + MAX_STACK_ID
    + (MAX_NAME + STATUS_SUFFIX.len())
    + "Succeeded".len();

/// DescribeAlarms takes at most 100 `AlarmNames`, each 1..255 characters,
/// and an `AlarmNamePrefix` of 1..255 (CloudWatch API reference,
/// DescribeAlarms).
pub const MAX_ALARM_NAMES: usize = 100;
pub const MAX_ALARM_NAME: usize = 255;

/// All bakes of a rollout together (one after each wave but the last) may
/// take half of the execution's default 24 h (the deploy state machine's
/// top-level TimeoutSeconds, bootstrap/cpsf.yaml `DeployTimeoutSeconds`,
/// and the 24 h CodePipeline gives a custom action): the other half is
/// left to the waves' deploys, which a single stack waiting on a 12-hour
/// WaitCondition may need. A longer bake is a sign the rollout belongs in
/// several pipeline stages.
pub const MAX_TOTAL_BAKE_SECONDS: u32 = DEFAULT_TIMEOUT_SECONDS / 2;

const _: () = assert!(
    MAX_TARGETS * (EVENTS_PER_TARGET + EVENTS_PER_WAVE) + EVENTS_PER_EXECUTION <= HISTORY_EVENTS
);
const _: () = assert!(MAX_TARGETS * VARIABLE_CHARS_PER_TARGET <= MAX_OUTPUT_VARIABLES_CHARS / 3);
const _: () = assert!(MAX_TARGETS * (MAX_NAME + 2) + 800 <= MAX_FAILURE_MESSAGE);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::definition::{DEPLOY_ASL, with_timeout};
    use serde_json::Value;

    /// The events of DeployTarget and what follows it in a target's Map
    /// iteration: a Task 6 plus 3 a retry, a Pass 2, and the iteration 2.
    #[test]
    fn a_targets_events_fit_their_budget() {
        let definition: Value =
            serde_json::from_str(&with_timeout(DEPLOY_ASL, DEFAULT_TIMEOUT_SECONDS)).unwrap();
        let iteration = &definition["States"]["DeployWave"]["ItemProcessor"]["States"];
        let task = &iteration["DeployTarget"];
        let retries: u64 = task["Retry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["MaxAttempts"].as_u64().unwrap_or(3))
            .sum();
        let states = iteration.as_object().unwrap();
        assert_eq!(states.len(), 2, "DeployTarget and TargetFailed");
        assert_eq!(iteration["TargetFailed"]["Type"], "Pass");
        let events = 2 + 6 + 3 * retries as usize + 2;
        assert_eq!(events, 25);
        assert!(events <= EVENTS_PER_TARGET);
    }

    #[test]
    fn the_numbers_in_the_comments_hold() {
        assert_eq!(
            MAX_TARGETS * (EVENTS_PER_TARGET + EVENTS_PER_WAVE) + EVENTS_PER_EXECUTION,
            7_300
        );
        assert_eq!(VARIABLE_CHARS_PER_TARGET, 360);
        assert_eq!(MAX_TARGETS * VARIABLE_CHARS_PER_TARGET, 36_000);
        let longest_stack_id = format!(
            "arn:aws-us-gov:cloudformation:ap-southeast-4:123456789012:stack/{}/{}",
            "s".repeat(128),
            "0".repeat(36)
        );
        assert_eq!(longest_stack_id.len(), 229);
        assert_eq!(MAX_TOTAL_BAKE_SECONDS, 43_200);
    }
}
