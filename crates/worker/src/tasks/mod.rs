//! The deploy state machine's task handlers, one file a handler, each
//! serving one Step Functions activity (statemachines/README.md describes
//! the flow), and [`Handler`], the registry that lists them. The runtime
//! that polls the activities, heartbeats and answers the tasks is
//! `activity/`; the CloudFormation calls the handlers share are
//! `cloudformation/`.
//!
//! - one file per handler: `check_stack.rs`, `create_stack.rs`,
//!   `update_stack.rs`, `delete_stack.rs`, `wait_stack.rs`; with approval
//!   `execute_change_set.rs`, `discard_change_set.rs`; a rollout's
//!   (`targets/`): `plan_rollout.rs`, `finish_wave.rs`, `bake.rs`, and with
//!   approval `gather_wave.rs`, `discard_wave.rs`; an environment's
//!   teardown (`environments/`): `check_teardown.rs`,
//!   `delete_environment.rs`, `wait_teardown.rs`; a canary's (`canary/`):
//!   `canary_step.rs`, `canary_bake.rs`, and `canary.rs` they share with
//!   UpdateStack.
//! - shared: `context.rs` (the clients, how long a task waits, the waits),
//!   `own_change_set.rs` (the change set a task makes and waits on),
//!   `asking.rs` (approval requests), `rollback.rs` (a target's rollback
//!   triggers), `alarms.rs` (DescribeAlarms).
//! - tests only: `asl_eval.rs` applies a state's paths as deploy.asl.json
//!   defines them, so `wave_size_tests.rs` can measure every state of the
//!   largest rollout against Step Functions' 256 KiB.
//!
//! A new handler is its own file and one row of the registry below.

pub mod alarms;
pub mod asking;
#[cfg(test)]
pub(crate) mod asl_eval;
pub mod bake;
pub mod canary;
pub mod canary_bake;
pub mod canary_step;
pub mod check_stack;
pub mod check_teardown;
pub mod context;
pub mod create_stack;
pub mod delete_environment;
pub mod delete_stack;
pub mod discard_change_set;
pub mod discard_wave;
pub mod execute_change_set;
pub mod finish_wave;
pub mod gather_wave;
pub mod own_change_set;
pub mod plan_rollout;
pub mod rollback;
pub mod update_stack;
pub mod wait_stack;
pub mod wait_teardown;
#[cfg(test)]
mod wave_size_tests;

use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::activity::lease::Lease;
pub use context::TaskContext;
#[cfg(test)]
pub(crate) use context::{stack_is, test_context};
use serde_json::Value;

/// Declares [`Handler`] from the registry's table, one row a handler:
/// `Name: activity, placeholder, slots, reads => call;` where `activity`
/// is the activity's default name (statemachines/README.md),
/// `placeholder` the one for its ARN in deploy.asl.json, `slots` says
/// whether its tasks mostly wait (`waits`) or work (`works`;
/// [`RunnerSettings::slots_for`]), and `reads` what `call` is handed:
/// `raw`, the task's input as it came, or `deploy`, a [`TaskInput`] with
/// the context reaching the rollout target the input names (a deploy of a
/// target runs with that target's credentials and region).
macro_rules! registry {
    (
        |$ctx:ident, $lease:ident, $input:ident|
        $( $handler:ident: $activity:literal, $placeholder:literal, $slots:ident, $reads:ident
            => $serve:expr; )+
    ) => {
        /// The handlers, by the activity each serves.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Handler {
            $($handler,)+
        }

        impl Handler {
            pub const ALL: [Handler; registry!(@count $($handler)+)] = [$(Handler::$handler,)+];

            /// The activity's default name (statemachines/README.md).
            pub fn default_activity(self) -> &'static str {
                match self {
                    $(Handler::$handler => $activity,)+
                }
            }

            /// The placeholder for the activity's ARN in deploy.asl.json.
            pub fn placeholder(self) -> &'static str {
                match self {
                    $(Handler::$handler => $placeholder,)+
                }
            }

            /// Whether its tasks mostly wait, each holding a slot long and
            /// cheaply (`RunnerSettings::slots_for`).
            pub fn waits(self) -> bool {
                match self {
                    $(Handler::$handler => registry!(@waits $slots),)+
                }
            }

            /// Runs the handler on one task's input; handlers with side
            /// effects confirm the `lease` before each.
            pub async fn run(
                self,
                $ctx: &TaskContext,
                $lease: &Lease,
                $input: &str,
            ) -> Result<Value, TaskError> {
                match self {
                    $(Handler::$handler => registry!(@serve $reads, $ctx, $input, $serve),)+
                }
            }
        }
    };
    (@count $($handler:ident)+) => { <[()]>::len(&[$(registry!(@unit $handler)),+]) };
    (@unit $handler:ident) => { () };
    (@waits waits) => { true };
    (@waits works) => { false };
    (@serve raw, $ctx:ident, $input:ident, $serve:expr) => { $serve };
    (@serve deploy, $ctx:ident, $input:ident, $serve:expr) => {{
        let $input = TaskInput::parse($input)?;
        let reached = $ctx.reaching(&$input).await?;
        let $ctx = reached.as_ref().unwrap_or($ctx);
        $serve
    }};
}

// The registry: every handler, its activity, the placeholder of that
// activity's ARN, its slots, what it reads, and the call that serves it.
registry! {
    |ctx, lease, input|
    CheckStack: "cpsf-check-stack", "CheckStackActivityArn", works, deploy
        => check_stack::run(ctx, &input).await;
    CreateStack: "cpsf-create-stack", "CreateStackActivityArn", works, deploy
        => create_stack::run(ctx, lease, &input).await;
    UpdateStack: "cpsf-update-stack", "UpdateStackActivityArn", works, deploy
        => update_stack::run(ctx, lease, &input).await;
    DeleteStack: "cpsf-delete-stack", "DeleteStackActivityArn", works, deploy
        => delete_stack::run(ctx, lease, &input).await;
    WaitStack: "cpsf-wait-stack", "WaitStackActivityArn", waits, deploy
        => wait_stack::run(ctx, &input).await;
    PlanRollout: "cpsf-plan-rollout", "PlanRolloutActivityArn", works, raw
        => plan_rollout::run(input);
    FinishWave: "cpsf-finish-wave", "FinishWaveActivityArn", works, raw
        => finish_wave::run(ctx, input).await;
    // A bake holds its slot as long as a wait, and costs as little.
    Bake: "cpsf-bake", "BakeActivityArn", waits, raw
        => bake::run(ctx, input).await;
    ExecuteChangeSet: "cpsf-execute-change-set", "ExecuteChangeSetActivityArn", works, deploy
        => execute_change_set::run(ctx, lease, &input).await;
    DiscardChangeSet: "cpsf-discard-change-set", "DiscardChangeSetActivityArn", works, deploy
        => discard_change_set::run(ctx, lease, &input).await.map(|()| Value::Null);
    GatherWave: "cpsf-gather-wave", "GatherWaveActivityArn", works, raw
        => gather_wave::run(ctx, lease, input).await;
    DiscardWave: "cpsf-discard-wave", "DiscardWaveActivityArn", works, raw
        => discard_wave::run(ctx, lease, input).await.map(|()| Value::Null);
    CheckTeardown: "cpsf-check-teardown", "CheckTeardownActivityArn", works, deploy
        => check_teardown::run(ctx, &input).await;
    DeleteEnvironment: "cpsf-delete-environment", "DeleteEnvironmentActivityArn", works, deploy
        => delete_environment::run(ctx, lease, &input).await;
    WaitTeardown: "cpsf-wait-teardown", "WaitTeardownActivityArn", works, deploy
        => wait_teardown::run(ctx, &input).await;
    CanaryStep: "cpsf-canary-step", "CanaryStepActivityArn", works, deploy
        => canary_step::run(ctx, lease, &input).await;
    // A canary's bake holds its slot as long as a wait, and costs as little.
    CanaryBake: "cpsf-canary-bake", "CanaryBakeActivityArn", waits, deploy
        => canary_bake::run(ctx, &input).await;
}

impl Handler {
    /// The handler's name: check-stack, create-stack, …
    pub fn name(self) -> &'static str {
        self.default_activity().trim_start_matches("cpsf-")
    }
}

/// How the runner serves these handlers (`cpsf worker`'s flags).
pub type RunnerSettings = crate::activity::runner::RunnerSettings<Handler>;

impl crate::activity::runner::Registry for Handler {
    type Context = TaskContext;

    fn all() -> &'static [Self] {
        &Self::ALL
    }

    fn name(self) -> &'static str {
        Handler::name(self)
    }

    fn waits(self) -> bool {
        Handler::waits(self)
    }

    fn run(
        self,
        ctx: &TaskContext,
        lease: &Lease,
        input: &str,
    ) -> impl Future<Output = Result<Value, TaskError>> + Send {
        Handler::run(self, ctx, lease, input)
    }
}

#[cfg(test)]
mod tests {
    use crate::activity::input::TaskInput;
    use crate::pipeline::wire::JobData;

    /// Each row of the registry holds together, and with the files that
    /// name its activity: the activity is `cpsf-` and the handler's name,
    /// the placeholder that name in CamelCase (the variant's) and
    /// `ActivityArn`; deploy.asl.json, bootstrap/cpsf.yaml and
    /// statemachines/README.md name them.
    #[test]
    fn every_handler_has_its_activity_and_placeholder_everywhere() {
        use super::Handler;
        let readme = include_str!("../../../../statemachines/README.md");
        for handler in Handler::ALL {
            let name = handler.name();
            assert_eq!(handler.default_activity(), format!("cpsf-{name}"));
            let camel: String = name
                .split('-')
                .map(|word| word[..1].to_uppercase() + &word[1..])
                .collect();
            assert_eq!(format!("{handler:?}"), camel);
            let placeholder = handler.placeholder();
            assert_eq!(placeholder, format!("{camel}ActivityArn"));
            assert!(
                crate::bootstrap::definition::DEPLOY_ASL.contains(&format!("${{{placeholder}}}")),
                "{placeholder} is not in deploy.asl.json"
            );
            assert!(
                crate::bootstrap::TEMPLATE
                    .contains(&format!("Name: !Sub \"${{NamePrefix}}-{name}\"")),
                "bootstrap/cpsf.yaml makes no activity {name}"
            );
            assert!(
                readme.contains(&format!("| `${{{placeholder}}}` | `cpsf-{name}` |")),
                "statemachines/README.md does not list {name}"
            );
        }
    }

    /// Every saved event parses as what its name says it is.
    #[test]
    fn test_events_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_events");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let kind = name.split_once('-').map_or(name.as_str(), |(_, rest)| rest);
            if kind.starts_with("task-") {
                TaskInput::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            } else if kind.starts_with("job-") {
                let mut job: serde_json::Value = serde_json::from_str(&text).unwrap();
                if let Some(lambda) = job.get("CodePipeline.job") {
                    // A Lambda invoke event: completed as `cpsf replay` does.
                    let mut lambda = lambda.clone();
                    let action_type = crate::replay::lambda::ActionType::cpsf();
                    crate::replay::lambda::complete(&mut lambda, &action_type);
                    job = lambda;
                }
                let data: JobData = serde_json::from_value(job["data"].clone())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    data.continuation_token.is_some(),
                    kind.starts_with("job-continuation"),
                    "{name}"
                );
            } else {
                panic!("{name}: test events are named <order>-job-… or <order>-task-…");
            }
            seen += 1;
        }
        assert_eq!(seen, 8);
    }
}
