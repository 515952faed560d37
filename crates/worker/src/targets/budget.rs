//! How a rollout's state fits Step Functions' 256 KiB (pure).
//!
//! Every state's input and output, a task's input and result, and an
//! execution's input are at most 262,144 bytes (Step Functions developer
//! guide, "Step Functions service quotas": "Maximum input or output size
//! for a task, state, or execution"). Past it the execution fails with
//! `States.DataLimitExceeded`, which no Catch handles (developer guide,
//! "Handling errors in Step Functions workflows"): a wave's planned change
//! sets would be left behind with nobody to discard them.
//!
//! What a rollout's state carries (statemachines/README.md, "What the
//! states carry"), and the bound on each part:
//!
//! - `$.plan`, which PlanRollout makes from the input (the input itself
//!   is not kept beside it: PlanRollout's `ResultPath` is `$`), and
//!   `$.current.targets`, NextWave's copy of the wave deploying. Their
//!   size depends on the input: PlanRollout measures them ([`check`]).
//! - Per target of the wave deploying: its Map result ([`MAP_ITEM`]), and
//!   after GatherWave either its apply keys ([`APPLY_KEYS`]) or, settled,
//!   a reference ([`SETTLED`]): [`IN_WAVE`]. Per target of an earlier
//!   wave: its result in `progress.results` ([`RESULT`]). Per target of
//!   the largest wave, its name in `progress.next` ([`NEXT_NAME`]).
//! - Once: the stack outputs kept for the output ([`OUTPUTS`]), and with
//!   approval the wave's request ([`WAVE_REQUEST`]) and the decision, in
//!   `$.current` and in `progress` ([`DECISION`], twice).
//!
//! A child's own output (its changes, its planned request, its stack
//! outputs) never enters the rollout's state: the Map keeps `{name,
//! status}` of each (DeployTarget's `ResultSelector`), and FinishWave and
//! GatherWave read the rest from the child's execution (DescribeExecution
//! on the name the plan gave it), which keeps it. FinishWave hands back
//! the plan as the whole state, so the wave's `$.current` ends with it.
//!
//! Worst case, 100 targets ([`MAX_TARGETS`]) in one wave that asks: while
//! it deploys, 100 × ([`IN_WAVE`] 470 + [`NEXT_NAME`] 43) +
//! [`WAVE_REQUEST`] (49,152) + 2 × [`DECISION`] (16,384) + [`OUTPUTS`]
//! (16,384) + [`KEYS`] (1,024) = 134,244 bytes, leaving 127,900 for the
//! plan and the wave's copy; after FinishWave, 100 × ([`RESULT`] 768 +
//! 43) + [`DECISION`] + [`OUTPUTS`] + [`KEYS`] = 106,700, leaving 155,444
//! for the plan. Spread over any waves, no layout needs more than
//! [`MOST_CARRIED`] (164,044). PlanRollout checks the plan against its own
//! layout. When the rollout is done, FinishWave keeps only the output:
//! [`MAX_OUTPUT`] (159,200) at most.

use super::limits::{MAX_NAME, MAX_STACK_ID, MAX_TARGETS};
use super::rollout::{PLAN_STAGE, Plan};
use crate::approval::ask::WAVE_REQUEST;

/// Step Functions' limit for a state's input or output, a task's input or
/// result, and an execution's input.
pub const STATE_LIMIT: usize = 256 * 1024;

/// A Map result: DeployTarget's `ResultSelector` `{"name": <the child's
/// name>, "status": "SUCCEEDED"}` (a child's name is `<target>-a<16 hex
/// digits>`, at most 58 ASCII characters: `rollout::apply_name`), or
/// TargetFailed's `{"name": …, "failed": true}`: 90 bytes, rounded up.
pub const MAP_ITEM: usize = 128;

/// The longest child execution name (`rollout::apply_name`).
pub const MAX_CHILD_NAME: usize = MAX_NAME + 2 + 16;

/// A target GatherWave settled (no changes, or failed), kept for FinishWave
/// as a reference: `{"name", "execution", "result": <its Map result>}`.
pub const SETTLED: usize = MAX_NAME + MAX_CHILD_NAME + 36 + MAP_ITEM;

/// What a target to apply carries more than its planned copy: the stage
/// `apply` for `plan` (1), the `a` of its name (1), and `"stackOperation":
/// {"approval": {"stackName", "changeSet", "timeoutMinutes"}}` naming the
/// change set waiting (`activity::input::Waiting`): a stack name and a change
/// set name of at most 128 ASCII characters each (CloudFormation API
/// reference, CreateStack and CreateChangeSet), 80 of keys and punctuation
/// and a 4-digit timeout.
pub const APPLY_KEYS: usize = 2 + 80 + 128 + 128 + 4;

/// A target's result as `progress.results` keeps it
/// (`plan::TargetResult::bounded`): each field cut to its bound as JSON
/// text, the larger of a success (name, status, stack id and status,
/// execution ARN: 680) and a failure (name, status, state, error, cause,
/// execution ARN: 756), rounded up. Stack outputs are counted in
/// [`OUTPUTS`].
pub const RESULT: usize = 768;

/// Fields of a result, as JSON text ([`fit_text`](crate::base::text::fit_text)).
pub const RESULT_STACK_STATUS: usize = 48;
pub const RESULT_STATE: usize = 80;
pub const RESULT_ERROR: usize = 100;
pub const RESULT_CAUSE: usize = 200;
/// An execution ARN: at most 256 characters (Step Functions API reference,
/// DescribeExecution `executionArn`).
pub const RESULT_EXECUTION_ARN: usize = 256;

/// A target's name in `progress.next`, quoted, with its comma.
pub const NEXT_NAME: usize = MAX_NAME + 3;

/// What a target of the wave deploying adds to the state.
pub const IN_WAVE: usize = max(APPLY_KEYS + MAP_ITEM, SETTLED);

/// The stack outputs kept in the results, the first target's first
/// (`rollout::fit_results`): its outputs are the action's output variables.
pub const OUTPUTS: usize = 16 * 1024;

/// A decision (RequestWaveApproval's result: who, at most 100 characters,
/// and the comment, at most 1,000: `approval::decision`) or a refusal
/// (`{Error, Cause}`, the cause "rejected by NAME: COMMENT"): 1,100
/// characters of at most 6 bytes each as JSON text (a control character is
/// written `\u00XX`), with its keys.
pub const DECISION: usize = 8 * 1024;

/// Where the targets read their parameters from other stacks' outputs
/// (`sources::note`), in the finished rollout's summary and beside it.
pub const SOURCES: usize = 1024;

/// The keys and numbers of the state itself (`plan`, `current`, `baked`,
/// `progress`'s counters, `stage`, `asks`): a few hundred bytes.
pub const KEYS: usize = 1024;

/// What the state carries once, while a wave deploys and after it, with
/// or without approval.
const fn once(asks: bool, deploying: bool) -> usize {
    let approval = match (asks, deploying) {
        (false, _) => 0,
        (true, true) => WAVE_REQUEST + 2 * DECISION,
        (true, false) => DECISION,
    };
    OUTPUTS + approval + KEYS
}

/// The most the state carries besides the plan and the wave's copy, for
/// 100 targets in any waves: each target at its larger cost.
pub const MOST_CARRIED: usize = MAX_TARGETS * (max(RESULT, IN_WAVE) + NEXT_NAME) + once(true, true);

/// The output variables each target adds to the output: `<name>_StackId`
/// and `<name>_Status`, as JSON text.
pub const VARIABLES: usize = 2 * MAX_NAME + MAX_STACK_ID + 40;

/// The rollout's output once done (`rollout::output`), the whole state then
/// (FinishWave keeps nothing else): each target's result and variables,
/// the outputs twice (the first target's stack outputs are also its own
/// result's), the first's stack id and status, the summary and the
/// decision, and where parameters came from (twice: in the summary and
/// as `parametersFrom`).
pub const MAX_OUTPUT: usize = MAX_TARGETS * (RESULT + VARIABLES)
    + 2 * OUTPUTS
    + MAX_STACK_ID
    + 512
    + 2 * SOURCES
    + DECISION
    + KEYS;

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

const _: () = assert!(MOST_CARRIED < STATE_LIMIT);
const _: () = assert!(MAX_OUTPUT < STATE_LIMIT);

/// The most a rollout's state holds in its waves besides the plan: for
/// each wave, while it deploys (its copy, its targets' Map results and
/// apply keys, the earlier waves' results, the request and decisions) and
/// after FinishWave (every result so far).
pub fn most_carried(plan: &Plan) -> usize {
    let asks = plan.first_stage == PLAN_STAGE;
    let largest = plan.waves.iter().map(Vec::len).max().unwrap_or(0);
    let names = largest * NEXT_NAME;
    let mut before = 0;
    let mut most = 0;
    for wave in &plan.waves {
        let deploying = json_len(wave) + before * RESULT + wave.len() * IN_WAVE;
        most = most.max(deploying + once(asks, true));
        before += wave.len();
        most = most.max(before * RESULT + once(asks, false));
    }
    most + names
}

/// Whether `plan` leaves room for all that the states add to it; the
/// message says how large it is and what fits.
pub fn check(plan: &Plan) -> Result<(), String> {
    let plan_bytes = json_len(plan);
    let needed = plan_bytes + most_carried(plan);
    if needed <= STATE_LIMIT {
        return Ok(());
    }
    let targets: usize = plan.waves.iter().map(Vec::len).sum();
    Err(format!(
        "the rollout's plan is {plan_bytes} bytes; with what its {targets} targets in {} \
         add to it (each wave's copy of its targets, their results{}), the state would \
         reach {needed} of the 262,144 bytes Step Functions carries between states: a \
         smaller input, fewer targets, fewer keys per target, or smaller waves",
        match plan.waves.len() {
            1 => "one wave".to_string(),
            n => format!("{n} waves"),
        },
        if plan.first_stage == PLAN_STAGE {
            ", the wave's request and decision"
        } else {
            ""
        }
    ))
}

fn json_len<T: serde::Serialize>(value: &T) -> usize {
    serde_json::to_string(value).map_or(0, |t| t.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_numbers_in_the_comments_hold() {
        let item = json!({"name": "n".repeat(MAX_CHILD_NAME), "status": "SUCCEEDED"});
        assert_eq!(item.to_string().len(), 90);
        let failed = json!({"name": "n".repeat(MAX_CHILD_NAME), "failed": true});
        assert!(failed.to_string().len() <= 90);
        let settled = json!({"name": "n".repeat(MAX_NAME), "execution": "e".repeat(MAX_CHILD_NAME),
                             "result": "r".repeat(MAP_ITEM - 2)});
        assert_eq!(settled.to_string().len(), SETTLED);
        let keys = json!({"stackOperation": {"approval": {"stackName": "", "changeSet": "", "timeoutMinutes": 0}}});
        assert_eq!(
            keys.to_string().len() - 2 + 1 - 1,
            80,
            "with its comma, less the braces and 0"
        );
        let variables = json!({format!("{}_StackId", "n".repeat(MAX_NAME)): "s".repeat(MAX_STACK_ID),
                               format!("{}_Status", "n".repeat(MAX_NAME)): "Succeeded"});
        assert!(
            variables.to_string().len() - 1 <= VARIABLES,
            "less the braces, with a comma"
        );
        assert_eq!(IN_WAVE, 470);
        let deploying = MAX_TARGETS * (IN_WAVE + NEXT_NAME) + once(true, true);
        assert_eq!(deploying, 134_244);
        assert_eq!(STATE_LIMIT - deploying, 127_900);
        let after = MAX_TARGETS * (RESULT + NEXT_NAME) + once(true, false);
        assert_eq!(after, 106_700);
        assert_eq!(STATE_LIMIT - after, 155_444);
        assert_eq!(MOST_CARRIED, 164_044);
        assert_eq!(MAX_OUTPUT, 159_200);
    }
}
