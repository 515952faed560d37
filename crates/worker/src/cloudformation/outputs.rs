//! Another stack's outputs for a deploy's parameters (`references`): read
//! with DescribeStacks on the client the task deploys with, so in a
//! rollout child the target's account and region through its role
//! (`tasks::context::TaskContext::reaching`), else the worker's own.
//!
//! DescribeStacks returns a stack's `Outputs`, each an `OutputKey` and
//! `OutputValue` (CloudFormation API reference, DescribeStacks and
//! Output); a stack that does not exist answers ValidationError "Stack
//! with id X does not exist" (`stack::describe` reads that as None). IAM:
//! cloudformation:DescribeStacks on the referenced stack, which the worker
//! role and a target account's role have on the stacks under the deployed
//! stack prefix (bootstrap/cpsf.yaml and target-account.yaml,
//! DeployPrefixedStacks).

use super::stack;
use crate::activity::error::TaskError;
use crate::activity::input::TaskInput;
use crate::references::{self, Place, Resolved};
use aws_sdk_cloudformation::Client;
use std::collections::BTreeMap;

/// The error of a reference that cannot be read: the stack or its output
/// is not there. Not retried: the deploy fails before anything changes.
pub const UNRESOLVED: &str = "Cpsf.OutputMissing";

/// `input` with its references replaced by the outputs they name, and
/// each one's source; the input as it is when it has none (no call made).
pub async fn resolve(
    cfn: &Client,
    input: &TaskInput,
) -> Result<(TaskInput, Vec<Resolved>), TaskError> {
    let found = references::of_parameters(&input.deploy.parameters).map_err(|problems| {
        TaskError::input(format!(
            "the deploy input is refused: {}",
            problems.join("; ")
        ))
    })?;
    if found.is_empty() {
        return Ok((input.clone(), Vec::new()));
    }
    let place = place_of(input);
    let mut outputs = BTreeMap::new();
    for name in references::stacks(&found) {
        let whose = references::referencing(&name, &found);
        if let Some(keys) = read(cfn, &name, &whose, &place).await? {
            outputs.insert(name, keys);
        }
    }
    let resolved = references::resolve(&found, &outputs, &place)
        .map_err(|message| TaskError::new(UNRESOLVED, message))?;
    let mut resolved_input = input.clone();
    resolved_input.deploy.parameters = references::substitute(&input.deploy.parameters, &resolved);
    for r in &resolved {
        tracing::info!(parameter = %r.parameter, stack = %r.reference.stack,
            output = %r.reference.output, account = %r.place.account,
            region = %r.place.region, "parameter read from another stack's output");
    }
    Ok((resolved_input, resolved))
}

/// One reference's value, read where the deploy goes (`place`) for
/// `whose` ("approval.reviewUrl"): a missing stack or output is
/// [`UNRESOLVED`], a refused read Cpsf.Denied, each naming the stack, the
/// output and where.
pub async fn value_of(
    cfn: &Client,
    reference: &references::Reference,
    whose: &str,
    place: &Place,
) -> Result<String, TaskError> {
    let keys = read(cfn, &reference.stack, whose, place).await?;
    references::value_of(whose, reference, keys.as_ref(), place)
        .map_err(|message| TaskError::new(UNRESOLVED, message))
}

/// Stack `name`'s outputs (key → value), None when it does not exist;
/// `whose` names what reads them in a refusal.
async fn read(
    cfn: &Client,
    name: &str,
    whose: &str,
    place: &Place,
) -> Result<Option<BTreeMap<String, String>>, TaskError> {
    let described = stack::describe(cfn, name).await.map_err(|e| match e.name {
        // AccessDenied (`TaskError::from_sdk`): a stack outside what the
        // deploying role may describe.
        "Cpsf.Denied" => TaskError::new(
            "Cpsf.Denied",
            references::denied_to(whose, name, place, &e.cause),
        ),
        _ => e,
    })?;
    Ok(described.map(|found| {
        found
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect()
    }))
}

/// A task's `output` with where each resolved parameter came from
/// (`resolved`, read on by WaitStack from `$.stackOperation`), and the
/// deploy's result when the output carries it (`result`: an update with
/// no changes ends there).
pub fn record(output: &mut serde_json::Value, resolved: &[Resolved]) {
    if resolved.is_empty() {
        return;
    }
    let sources = references::sources(resolved);
    if let Some(result) = output.get_mut("result") {
        annotate(result, &sources);
    }
    output["resolved"] = sources;
}

/// The deploy's result (`stack::summary`) with the sources of its
/// parameters: `resolved`, and in the summary the pipeline shows.
pub fn annotate(result: &mut serde_json::Value, sources: &serde_json::Value) {
    let note = references::note(sources);
    if note.is_empty() {
        return;
    }
    if let Some(summary) = result["summary"].as_str() {
        result["summary"] = format!("{summary}; from stack outputs: {note}").into();
    }
    result["resolved"] = sources.clone();
}

/// Where the input's stack goes (`references::Place::of`).
pub fn place_of(input: &TaskInput) -> Place {
    let target = input.deploy.target.as_ref();
    Place::of(
        &input.execution_arn,
        target.map(|t| t.region.as_str()),
        target.and_then(|t| t.account.as_deref()),
        target.and_then(|t| t.role_arn.as_deref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::describe_stacks::{
        DescribeStacksError, DescribeStacksOutput,
    };
    use aws_sdk_cloudformation::types::{Output, Stack, StackStatus};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn input(parameters: serde_json::Value) -> TaskInput {
        TaskInput::parse(
            &serde_json::json!({
                "deploy": {"stackName": "todoapi-dev", "parameters": parameters,
                           "target": {"name": "eu", "region": "eu-west-1",
                                      "account": "222222222222"}},
                "executionArn": "arn:aws:states:us-east-1:111111111111:execution:cpsf-deploy:run-1"
            })
            .to_string(),
        )
        .unwrap()
    }

    fn reference() -> serde_json::Value {
        serde_json::json!({"Stage": "dev",
            "LayerArn": {"fromStack": "todolayer-dev", "output": "LayerArn"}})
    }

    /// DescribeStacks's documented answer for an existing stack: the
    /// stack with its Outputs (API reference, DescribeStacks, Output).
    fn layer_stack() -> DescribeStacksOutput {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name("todolayer-dev")
                    .stack_status(StackStatus::CreateComplete)
                    .creation_time(aws_smithy_types::DateTime::from_secs(0))
                    .outputs(
                        Output::builder()
                            .output_key("LayerArn")
                            .output_value("arn:aws:lambda:eu-west-1:222222222222:layer:todo:3")
                            .build(),
                    )
                    .outputs(
                        Output::builder()
                            .output_key("LayerName")
                            .output_value("todo")
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn a_found_output_replaces_the_reference_and_says_where_from() {
        let described = mock!(Client::describe_stacks)
            .match_requests(|r| r.stack_name() == Some("todolayer-dev"))
            .then_output(layer_stack);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&described]);
        let (resolved_input, resolved) = resolve(&cfn, &input(reference())).await.unwrap();
        assert_eq!(
            resolved_input.parameters().unwrap(),
            vec![
                (
                    "LayerArn".to_string(),
                    "arn:aws:lambda:eu-west-1:222222222222:layer:todo:3".to_string()
                ),
                ("Stage".to_string(), "dev".to_string()),
            ]
        );
        assert_eq!(
            references::note(&references::sources(&resolved)),
            "LayerArn ← todolayer-dev.LayerArn (222222222222/eu-west-1)"
        );
        assert_eq!(described.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_stack_fails_naming_the_stack_the_output_and_where() {
        // AWS's answer for a stack that does not exist (API reference,
        // DescribeStacks: ValidationError).
        let missing = mock!(Client::describe_stacks).then_error(|| {
            DescribeStacksError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("ValidationError")
                    .message("Stack with id todolayer-dev does not exist")
                    .build(),
            )
        });
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&missing]);
        let error = resolve(&cfn, &input(reference())).await.unwrap_err();
        assert_eq!(error.name, UNRESOLVED);
        assert_eq!(
            error.cause,
            "parameter LayerArn: stack todolayer-dev does not exist, so it has no output \
             LayerArn (looked in account 222222222222, region eu-west-1)"
        );
    }

    /// IAM's refusal (AccessDenied, "… is not authorized to perform:
    /// cloudformation:DescribeStacks on resource: …") names the
    /// parameter, the stack and where, and which stacks may be read.
    #[tokio::test]
    async fn a_denied_read_says_which_stack_and_which_may_be_read() {
        let denied = mock!(Client::describe_stacks).then_error(|| {
            DescribeStacksError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message(
                        "User: arn:aws:sts::222222222222:assumed-role/cpsf-target/s is not \
                         authorized to perform: cloudformation:DescribeStacks on resource: \
                         arn:aws:cloudformation:eu-west-1:222222222222:stack/todolayer-dev/*",
                    )
                    .build(),
            )
        });
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&denied]);
        let error = resolve(&cfn, &input(reference())).await.unwrap_err();
        assert_eq!(error.name, "Cpsf.Denied");
        assert!(
            error.cause.starts_with(
                "parameter LayerArn: reading stack todolayer-dev's outputs (in account \
                 222222222222, region eu-west-1) was denied: "
            ),
            "{}",
            error.cause
        );
        assert!(
            error.cause.contains("DeployedStackPrefix"),
            "{}",
            error.cause
        );
    }

    #[tokio::test]
    async fn a_missing_output_fails_naming_the_outputs_there_are() {
        let described = mock!(Client::describe_stacks).then_output(layer_stack);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&described]);
        let asked = serde_json::json!({
            "LayerArn": {"fromStack": "todolayer-dev", "output": "LayerVersionArn"}});
        let error = resolve(&cfn, &input(asked)).await.unwrap_err();
        assert_eq!(error.name, UNRESOLVED);
        assert_eq!(
            error.cause,
            "parameter LayerArn: stack todolayer-dev has no output LayerVersionArn (looked in \
             account 222222222222, region eu-west-1; it has LayerArn, LayerName)"
        );
    }

    /// An update with no changes ends with UpdateStack's `result`: the
    /// summary the pipeline shows says where the parameters came from.
    #[tokio::test]
    async fn the_result_and_its_summary_name_the_sources() {
        let described = mock!(Client::describe_stacks).then_output(layer_stack);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&described]);
        let (_, resolved) = resolve(&cfn, &input(reference())).await.unwrap();
        let mut output = serde_json::json!({"changed": false,
            "result": {"stackName": "todoapi-dev", "summary": "no changes"}});
        record(&mut output, &resolved);
        assert_eq!(
            output["result"]["summary"],
            "no changes; from stack outputs: LayerArn ← todolayer-dev.LayerArn \
             (222222222222/eu-west-1)"
        );
        assert_eq!(output["resolved"][0]["parameter"], "LayerArn");
        assert_eq!(output["result"]["resolved"], output["resolved"]);
        let mut untouched = serde_json::json!({"changed": true});
        record(&mut untouched, &[]);
        assert_eq!(untouched, serde_json::json!({"changed": true}));
    }

    #[tokio::test]
    async fn an_input_without_references_makes_no_call() {
        let described = mock!(Client::describe_stacks).then_output(layer_stack);
        let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&described]);
        let (same, resolved) = resolve(&cfn, &input(serde_json::json!({"Stage": "dev"})))
            .await
            .unwrap();
        assert!(resolved.is_empty());
        assert_eq!(
            same.deploy.parameters,
            input(serde_json::json!({"Stage": "dev"})).deploy.parameters
        );
        assert_eq!(described.num_calls(), 0);
    }
}
