//! A Lambda invoke action's event (`{"CodePipeline.job": {"id",
//! "accountId", "data"}}`, CodePipeline user guide, "Invoke an AWS Lambda
//! function in a pipeline", JSON event example) carries less than a job
//! from PollForJobs: no `actionTypeId` and no `pipelineContext`. Events
//! saved from such Lambdas are completed here (pure), and what was filled
//! in is said, so the replay runs them through the worker's own code.

use serde_json::{Value, json};

/// The action type a completed event claims, `category/owner/provider/version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionType {
    pub category: String,
    pub owner: String,
    pub provider: String,
    pub version: String,
}

impl ActionType {
    /// cpsf's own, the one `cpsf worker` serves unless told otherwise
    /// ([`crate::action_type::id`]): Deploy/Custom/StepFunctionsDeploy/1.
    pub fn cpsf() -> Self {
        let id = crate::action_type::id();
        Self {
            category: id.category().as_str().into(),
            owner: id.owner().as_str().into(),
            provider: id.provider().into(),
            version: id.version().into(),
        }
    }

    /// Parses `category/owner/provider/version` (`--action-type`).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split('/').collect::<Vec<_>>()[..] {
            [category, owner, provider, version]
                if [category, owner, provider, version]
                    .iter()
                    .all(|p| !p.is_empty()) =>
            {
                Ok(Self {
                    category: category.into(),
                    owner: owner.into(),
                    provider: provider.into(),
                    version: version.into(),
                })
            }
            _ => Err(format!(
                "'{text}' is not CATEGORY/OWNER/PROVIDER/VERSION, e.g. {}",
                Self::cpsf()
            )),
        }
    }
}

/// `category/owner/provider/version`, as [`ActionType::parse`] reads it
/// (`--action-type` shows its default so).
impl std::fmt::Display for ActionType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            category,
            owner,
            provider,
            version,
        } = self;
        write!(f, "{category}/{owner}/{provider}/{version}")
    }
}

/// The pipeline name a completed event's context gets: it starts the
/// execution's name (input.rs), so a replayed event's executions are easy
/// to tell apart.
pub const PIPELINE_NAME: &str = "replayed-lambda-event";

/// Fills in what a Lambda event's job lacks, in place; returns a sentence
/// for each thing filled in. A job that has both is left as it is.
pub fn complete(job: &mut Value, action_type: &ActionType) -> Vec<String> {
    let id = job["id"].as_str().unwrap_or("unknown").to_string();
    let Some(data) = job.get_mut("data").and_then(Value::as_object_mut) else {
        return Vec::new();
    };
    let mut filled = Vec::new();
    if !data.contains_key("actionTypeId") {
        data.insert(
            "actionTypeId".into(),
            json!({
                "category": action_type.category,
                "owner": action_type.owner,
                "provider": action_type.provider,
                "version": action_type.version,
            }),
        );
        filled.push(format!(
            "data.actionTypeId: a Lambda event has none; used {action_type} (--action-type)"
        ));
    }
    if !data.contains_key("pipelineContext") {
        data.insert(
            "pipelineContext".into(),
            json!({
                "pipelineName": PIPELINE_NAME,
                "stage": {"name": "Deploy"},
                "action": {"name": "Deploy", "actionExecutionId": id},
                "pipelineArn": "",
                "pipelineExecutionId": id,
            }),
        );
        filled.push(format!(
            "data.pipelineContext: a Lambda event has none; used pipeline '{PIPELINE_NAME}', \
             stage and action 'Deploy', and the job id as the action and pipeline execution ids"
        ));
    }
    for list in ["inputArtifacts", "outputArtifacts"] {
        data.entry(list).or_insert_with(|| json!([]));
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::data::Job;

    const EVENT: &str =
        include_str!("../../../../test_events/8-job-lambda--invoke-event--reports-success.json");

    #[test]
    fn a_lambda_event_is_completed_into_a_job_and_says_what_was_filled() {
        let event: Value = serde_json::from_str(EVENT).unwrap();
        let mut job = event["CodePipeline.job"].clone();
        let before = Job::from_json(&job).unwrap_err().to_string();
        assert!(before.contains("actionTypeId"), "{before}");
        let filled = complete(&mut job, &ActionType::cpsf());
        assert_eq!(filled.len(), 2, "{filled:?}");
        assert!(
            filled[0].contains("Deploy/Custom/StepFunctionsDeploy/1"),
            "{}",
            filled[0]
        );
        let parsed = Job::from_json(&job).unwrap();
        assert_eq!(parsed.context.pipeline_name, PIPELINE_NAME);
        assert_eq!(
            parsed.context.action_execution_id.as_deref(),
            Some("5b0a2c1e-7d3f-4e8a-9c6b-2f1e0d9c8b7a")
        );
        assert_eq!(parsed.input_artifacts[0].bucket, "cpsf-demo-artifacts");
        // A complete job is left as it is.
        assert!(complete(&mut job, &ActionType::cpsf()).is_empty());
    }

    #[test]
    fn an_action_type_is_four_parts() {
        assert_eq!(
            ActionType::parse("Deploy/Custom/StepFunctionsDeploy/1"),
            Ok(ActionType::cpsf())
        );
        // As shown (`--action-type`'s default), as read.
        assert_eq!(
            ActionType::cpsf().to_string(),
            "Deploy/Custom/StepFunctionsDeploy/1"
        );
        assert!(ActionType::parse("Deploy/Custom").is_err());
        assert!(ActionType::parse("Deploy//StepFunctionsDeploy/1").is_err());
    }
}
