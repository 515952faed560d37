//! The limits more than one layer keeps to: what CodePipeline and Step
//! Functions accept, and how long a deploy may run.
//!
//! CodePipeline, from the API model (botocore codepipeline/2015-07-09/service-2.json):
//! - `FailureDetails.message`: `Message`, length 1..5,000;
//! - `ExecutionDetails.summary`: `ExecutionSummary`, length 1..2,048;
//! - `externalExecutionId` (both): `ExecutionId`, length 1..1,500;
//! - `continuationToken`: `ContinuationToken`, length 1..2,048 (ours is a
//!   small JSON object, far below it: see `decide::Continuation`);
//! - `outputVariables`: keys match `[A-Za-z0-9@\-_]+`; all of an action's
//!   variables together at most 122,880 characters
//!   (`OutputVariablesSizeExceededException`; user guide, "Quotas").

pub const MAX_SUMMARY: usize = 2048;
pub const MAX_FAILURE_MESSAGE: usize = 5000;
pub const MAX_EXTERNAL_EXECUTION_ID: usize = 1500;
pub const MAX_OUTPUT_VARIABLES_CHARS: usize = 122_880;

/// Step Functions accepts at most 256 KiB of input.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;
/// The key cpsf adds to the input; a user's input must not use it.
pub const PIPELINE_KEY: &str = "pipeline";

/// 24 hours, bootstrap/cpsf.yaml's default too. Without a top-level timeout
/// an execution whose activities nobody serves runs until Step Functions'
/// one-year limit ("Using timeouts to avoid stuck Step Functions workflow
/// executions", Step Functions developer guide). 24 h outlasts every retry
/// the tasks may legitimately make (about 21 h, tested in `bootstrap/definition.rs`) and a stack
/// operation waiting on a 12-hour WaitCondition or CreationPolicy (their
/// longest timeout, CloudFormation user guide), and matches the 24 h a
/// custom action may run (design.md, "AWS facts that matter"), so no
/// pipeline still waits for an execution when it times out.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 86_400;
