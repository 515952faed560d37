//! A request breaking each kind of constraint gets AWS's answer. The models
//! here are botocore-shaped excerpts (the real ones are read from the
//! tools folder and are not needed by unit tests).

use super::model::{Model, Models};
use super::*;
use serde_json::json;

/// An AWS JSON service with one operation of every kind of member.
fn json_model() -> Model {
    Model::parse(&json!({
        "metadata": {"protocol": "json", "jsonVersion": "1.0", "targetPrefix": "AWSStepFunctions"},
        "operations": {
            "StartExecution": {"input": {"shape": "StartExecutionInput"}},
            "ListActivities": {},
        },
        "shapes": {
            "StartExecutionInput": {"type": "structure", "required": ["stateMachineArn"], "members": {
                "stateMachineArn": {"shape": "Arn"},
                "name": {"shape": "Name"},
                "input": {"shape": "SensitiveData", "documentation":
                    "<p>Length constraints apply to the payload size, and are expressed as bytes in UTF-8 encoding.</p>"},
                "traceHeader": {"shape": "TraceHeader"},
                "percent": {"shape": "Percentage"},
                "type": {"shape": "FailureType"},
                "tags": {"shape": "TagList"},
                "configuration": {"shape": "Configuration"},
                "label": {"shape": "Label"},
            }},
            "Arn": {"type": "string", "min": 1, "max": 256},
            "Name": {"type": "string", "min": 1, "max": 80},
            "SensitiveData": {"type": "string", "max": 262144, "sensitive": true},
            "TraceHeader": {"type": "string", "max": 256, "pattern": "\\p{ASCII}*"},
            "Percentage": {"type": "integer", "min": 0, "max": 100},
            "FailureType": {"type": "string", "enum": ["JobFailed", "ConfigurationError"]},
            "TagList": {"type": "list", "member": {"shape": "Tag"}, "max": 2},
            "Tag": {"type": "structure", "required": ["key"], "members": {
                "key": {"shape": "TagKey"}, "value": {"shape": "TagValue"}}},
            "TagKey": {"type": "string", "min": 1, "max": 3},
            "TagValue": {"type": "string", "max": 5},
            "Configuration": {"type": "map", "key": {"shape": "TagKey"}, "value": {"shape": "TagValue"}},
            "Label": {"type": "string", "pattern": "[\\p{L}]+"},
        }
    }))
    .unwrap()
}

/// An AWS Query service: CloudFormation's CreateStack, cut down.
fn query_model() -> Model {
    Model::parse(&json!({
        "metadata": {"protocol": "query"},
        "operations": {"CreateStack": {"input": {"shape": "CreateStackInput"}}},
        "shapes": {
            "CreateStackInput": {"type": "structure", "required": ["StackName"], "members": {
                "StackName": {"shape": "StackName"},
                "Parameters": {"shape": "Parameters"},
                "Capabilities": {"shape": "Capabilities"},
                "TimeoutInMinutes": {"shape": "TimeoutMinutes"},
                "Tags": {"shape": "Tags"},
            }},
            "StackName": {"type": "string", "max": 128, "pattern": "[a-zA-Z][-a-zA-Z0-9]*"},
            "Parameters": {"type": "list", "member": {"shape": "Parameter"}},
            "Parameter": {"type": "structure", "members": {
                "ParameterKey": {"shape": "ParameterKey"}, "ParameterValue": {"shape": "ParameterValue"}}},
            "ParameterKey": {"type": "string"},
            "ParameterValue": {"type": "string", "max": 4},
            "Capabilities": {"type": "list", "member": {"shape": "Capability"}},
            "Capability": {"type": "string", "enum": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]},
            "TimeoutMinutes": {"type": "integer", "min": 1},
            "Tags": {"type": "list", "member": {"shape": "Tag"}, "max": 50},
            "Tag": {"type": "structure", "required": ["Key", "Value"], "members": {
                "Key": {"shape": "TagKey"}, "Value": {"shape": "TagValue"}}},
            "TagKey": {"type": "string", "min": 1, "max": 3},
            "TagValue": {"type": "string", "min": 1},
        }
    }))
    .unwrap()
}

fn checks() -> Checks {
    let models = Models::preloaded([("states", json_model()), ("cloudformation", query_model())]);
    Checks::new(Box::leak(Box::new(models)))
}

/// A signed POST to `/` of `operation` (`service:Action`).
fn signed_request<'a>(
    service: &'a str,
    operation: &'a str,
    wire: Wire,
    body: &'a [u8],
) -> Request<'a> {
    static METHOD: hyper::Method = hyper::Method::POST;
    static URI: std::sync::LazyLock<hyper::Uri> = std::sync::LazyLock::new(|| "/".parse().unwrap());
    static HEADERS: std::sync::LazyLock<hyper::HeaderMap> =
        std::sync::LazyLock::new(hyper::HeaderMap::new);
    Request {
        service: Some(service),
        operation,
        action: operation.split_once(':').unwrap().1,
        wire,
        method: &METHOD,
        uri: &URI,
        headers: &HEADERS,
        body,
    }
}

/// The message AWS answers `body` (a StartExecution) with, if it refuses it.
fn start(checks: &Checks, body: serde_json::Value) -> Option<String> {
    let body = body.to_string();
    let request = signed_request(
        "states",
        "states:StartExecution",
        Wire::Json,
        body.as_bytes(),
    );
    checks.check(&request).map(|refusal| {
        assert_eq!(refusal.code, "ValidationException");
        assert_eq!(refusal.json_version.as_deref(), Some("1.0"));
        refusal.message
    })
}

const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:deploy";

#[test]
fn a_request_breaking_each_kind_of_constraint_gets_aws_answer() {
    let checks = checks();
    let one = |detail: &str| format!("1 validation error detected: {detail}");
    let cases = [
        (
            json!({"name": "n"}),
            one("Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null"),
        ),
        (
            json!({"stateMachineArn": ARN, "name": "a".repeat(81)}),
            one(&format!(
                "Value '{}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80",
                "a".repeat(81)
            )),
        ),
        (
            json!({"stateMachineArn": ARN, "name": ""}),
            one("Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        ),
        // Step Functions counts a payload in UTF-8 bytes and, the member
        // being sensitive, leaves its value out of the message (the answer
        // AWS gives a StartExecution with too large an input).
        (
            json!({"stateMachineArn": ARN, "input": "é".repeat(131_073)}),
            one("Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding"),
        ),
        (
            json!({"stateMachineArn": ARN, "traceHeader": "Root=é"}),
            one("Value 'Root=é' at 'traceHeader' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*"),
        ),
        (
            json!({"stateMachineArn": ARN, "percent": 101}),
            one("Value '101' at 'percent' failed to satisfy constraint: Member must have value less than or equal to 100"),
        ),
        (
            json!({"stateMachineArn": ARN, "percent": -1}),
            one("Value '-1' at 'percent' failed to satisfy constraint: Member must have value greater than or equal to 0"),
        ),
        (
            json!({"stateMachineArn": ARN, "type": "Bogus"}),
            one("Value 'Bogus' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [JobFailed, ConfigurationError]"),
        ),
        (
            json!({"stateMachineArn": ARN, "tags": [{"key": "a"}, {"key": "b"}, {"key": "c"}]}),
            one("Value '[{key=a}, {key=b}, {key=c}]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 2"),
        ),
        (
            json!({"stateMachineArn": ARN, "tags": [{"key": "a"}, {"value": "v"}]}),
            one("Value null at 'tags.2.member.key' failed to satisfy constraint: Member must not be null"),
        ),
        (
            json!({"stateMachineArn": ARN, "configuration": {"k": "toolong"}}),
            one("Value '{k=toolong}' at 'configuration' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 5]"),
        ),
        (
            json!({"stateMachineArn": "", "tags": [{"key": "long"}]}),
            "2 validation errors detected: \
             Value '' at 'stateMachineArn' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value 'long' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 3"
                .to_string(),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            start(&checks, body.clone()).as_deref(),
            Some(expected.as_str()),
            "{body}"
        );
    }
    // At every limit: accepted.
    let at_limits = json!({
        "stateMachineArn": ARN, "name": "a".repeat(80), "input": "é".repeat(131_072),
        "percent": 100, "type": "JobFailed", "tags": [{"key": "abc", "value": "12345"}, {"key": "d"}],
        "configuration": {"abc": "12345"}, "traceHeader": "Root=1",
    });
    assert_eq!(start(&checks, at_limits), None);
    let report = checks.report();
    assert_eq!((report.checked, report.refused), (13, 12));
    assert_eq!(checks.take_refusals().len(), 12);
    assert!(checks.take_refusals().is_empty(), "refusals are taken once");
}

#[test]
fn a_pattern_regex_lite_cannot_read_is_skipped_and_counted() {
    let checks = checks();
    assert_eq!(
        start(&checks, json!({"stateMachineArn": ARN, "label": "!!"})),
        None
    );
    let request = signed_request("states", "states:StartExecution", Wire::Json, b"{}");
    assert!(checks.check(&request).is_some(), "the model is still read");
    assert_eq!(checks.report().patterns_skipped, 1);
}

#[test]
fn query_requests_are_read_back_into_their_structure_and_answered_with_validation_error() {
    let checks = checks();
    let create = |form: &str| {
        let body = format!("Action=CreateStack&Version=2010-05-15&{form}");
        let request = signed_request(
            "cloudformation",
            "cloudformation:CreateStack",
            Wire::Query,
            body.as_bytes(),
        );
        checks.check(&request).map(|refusal| {
            assert_eq!(refusal.code, "ValidationError");
            assert_eq!(refusal.json_version, None);
            refusal.message
        })
    };
    assert_eq!(
        create(
            "StackName=app&Parameters.member.1.ParameterKey=Env&Parameters.member.1.ParameterValue=prod\
                &Capabilities.member.1=CAPABILITY_IAM&Tags.member.1.Key=a&Tags.member.1.Value=b&TimeoutInMinutes=5"
        ),
        None
    );
    assert_eq!(create("Tags="), Some(
        "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null".into()
    ));
    assert_eq!(
        create(&format!("StackName={}", "a".repeat(129))),
        Some(format!(
            "1 validation error detected: Value '{}' at 'stackName' failed to satisfy constraint: Member must have length less than or equal to 128",
            "a".repeat(129)
        ))
    );
    assert_eq!(create("StackName=1app"), Some(
        "1 validation error detected: Value '1app' at 'stackName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*".into()
    ));
    assert_eq!(create("StackName=app&Parameters.member.1.ParameterKey=Env&Parameters.member.1.ParameterValue=production"), Some(
        "1 validation error detected: Value 'production' at 'parameters.1.member.parameterValue' failed to satisfy constraint: Member must have length less than or equal to 4".into()
    ));
    assert_eq!(create("StackName=app&Capabilities.member.1=CAPABILITY_IAM&Capabilities.member.2=CAPABILITY_X"), Some(
        "1 validation error detected: Value 'CAPABILITY_X' at 'capabilities.2.member' failed to satisfy constraint: Member must satisfy enum value set: [CAPABILITY_IAM, CAPABILITY_NAMED_IAM]".into()
    ));
    assert_eq!(create("StackName=app&TimeoutInMinutes=0"), Some(
        "1 validation error detected: Value '0' at 'timeoutInMinutes' failed to satisfy constraint: Member must have value greater than or equal to 1".into()
    ));
    assert_eq!(create("StackName=app&Tags.member.1.Key=a%20b%2Bc"), Some(
        "2 validation errors detected: Value 'a b+c' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 3; \
         Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null".into()
    ));
}

#[test]
fn operations_without_input_pass_and_what_cannot_be_checked_is_counted() {
    let checks = checks();
    let request = signed_request("states", "states:ListActivities", Wire::Json, b"");
    assert_eq!(checks.check(&request), None);
    let request = signed_request("states", "states:NoSuchOperation", Wire::Json, b"{}");
    assert_eq!(checks.check(&request), None);
    let request = signed_request("kinesis", "kinesis:PutRecord", Wire::Json, b"{}");
    assert_eq!(checks.check(&request), None);
    let mut unsigned = signed_request("states", "unsigned:POST", Wire::RestXml, b"");
    unsigned.service = None;
    assert_eq!(checks.check(&unsigned), None);
    let report = checks.report();
    assert_eq!(report.checked, 1);
    assert_eq!(
        report.unchecked.into_iter().collect::<Vec<_>>(),
        vec![
            ("kinesis (no model)".to_string(), 1),
            ("states (operation not in the model)".to_string(), 1),
            ("unsigned".to_string(), 1),
        ]
    );
}
