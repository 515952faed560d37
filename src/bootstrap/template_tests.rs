//! Static checks of bootstrap/cpsf.yaml: its IAM grants (no wildcard
//! action, a reason for every `"*"` resource, only what the code calls), its
//! partition-neutral ARNs, and that what it passes matches what the code
//! reads (the definition's placeholders, the worker's flags).

use super::TEMPLATE;

/// The lines of one resource of the template.
fn resource(name: &str) -> Vec<&'static str> {
    let lines: Vec<&str> = TEMPLATE.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == format!("  {name}:"))
        .expect("resource exists");
    lines[start + 1..]
        .iter()
        .take_while(|l| l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#'))
        .copied()
        .collect()
}

#[test]
fn no_action_is_a_wildcard() {
    for line in TEMPLATE.lines() {
        let action = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("Action: ");
        let is_action = line.contains("Action:")
            || (line.trim().starts_with("- ") && action.contains(':') && !action.contains(' '));
        if is_action {
            assert!(!action.contains('*'), "wildcard action: {line}");
        }
    }
}

#[test]
fn every_wildcard_resource_is_justified_in_a_comment() {
    let lines: Vec<&str> = TEMPLATE.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains("Resource: \"*\"") {
            let statement_start = lines[..i]
                .iter()
                .rposition(|l| {
                    l.trim_start().starts_with("- Effect:") || l.trim_start().starts_with("- Sid:")
                })
                .unwrap_or(0);
            let justified = lines[statement_start.saturating_sub(3)..i]
                .iter()
                .any(|l| l.trim_start().starts_with('#'));
            assert!(
                justified,
                "line {}: Resource \"*\" without a comment saying why",
                i + 1
            );
        }
    }
}

/// Each action the worker role grants (in WorkerRole and the conditional
/// ArtifactKeyPolicy) is an API call the worker's code makes (its
/// snake_case SDK method appears in src/job, src/tasks or src/sfn.rs);
/// PassRole is implied by handing CloudFormation a roleArn, and
/// kms:Decrypt by reading artifacts S3 decrypts with a customer key.
#[test]
fn the_worker_role_grants_only_what_the_worker_calls() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    fn read_all(path: &std::path::Path, code: &mut String) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                read_all(&entry.unwrap().path(), code);
            }
        } else {
            code.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    let mut code = String::new();
    for part in ["sfn.rs", "job", "tasks"] {
        read_all(&root.join(part), &mut code);
    }
    let mut lines = resource("WorkerRole");
    lines.extend(resource("ArtifactKeyPolicy"));
    let actions: Vec<String> = lines
        .iter()
        .filter_map(|l| {
            let item = l
                .trim()
                .trim_start_matches("- ")
                .trim_start_matches("Action: ");
            let (service, action) = item.split_once(':')?;
            let is_action = !action.contains(' ')
                && [
                    "codepipeline",
                    "states",
                    "cloudformation",
                    "s3",
                    "iam",
                    "kms",
                ]
                .contains(&service);
            is_action.then(|| action.to_string())
        })
        .collect();
    assert!(actions.len() >= 20, "{actions:?}");
    assert!(actions.contains(&"Decrypt".to_string()), "{actions:?}");
    for action in actions {
        if action == "Decrypt" {
            assert!(
                code.contains(".get_object()"),
                "kms:Decrypt without an S3 read it serves"
            );
            continue;
        }
        if action == "PassRole" {
            assert!(
                code.contains(".set_role_arn("),
                "PassRole without a roleArn handed to CloudFormation"
            );
            continue;
        }
        // IAM names ListObjectsV2 after the bucket it lists.
        let action = if action == "ListBucket" {
            "ListObjectsV2".to_string()
        } else {
            action
        };
        let snake: String = action
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let lower = c.to_ascii_lowercase();
                if c.is_ascii_uppercase() && i > 0 {
                    vec!['_', lower]
                } else {
                    vec![lower]
                }
            })
            .collect();
        assert!(
            code.contains(&format!(".{snake}()")),
            "the worker role grants {action}, which the worker never calls"
        );
    }
}

/// A service not in the list above would escape that test.
#[test]
fn every_granted_service_is_checked() {
    for line in TEMPLATE.lines() {
        let item = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("Action: ");
        if let Some((service, action)) = item.split_once(':')
            && !action.contains(' ')
            && !service.contains(' ')
            && action
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
        {
            assert!(
                [
                    "codepipeline",
                    "states",
                    "cloudformation",
                    "s3",
                    "iam",
                    "kms",
                    "logs",
                    "sts"
                ]
                .contains(&service),
                "{line}"
            );
        }
    }
}

/// Every ARN names its partition through `${AWS::Partition}`, so the
/// template installs in aws-cn and aws-us-gov as well.
#[test]
fn no_arn_hard_codes_the_partition() {
    for (i, line) in TEMPLATE.lines().enumerate() {
        assert!(!line.contains("arn:aws:"), "line {}: {line}", i + 1);
    }
}

/// Domains differ by partition too (aws-cn: `amazonaws.com.cn`, its own
/// console): endpoints go through `${AWS::URLSuffix}`, console links
/// through the Console mapping. Service principals (`x.amazonaws.com`) are
/// the same in every partition and stay.
#[test]
fn no_domain_hard_codes_the_partition() {
    for (i, line) in TEMPLATE.lines().enumerate() {
        let principal =
            line.contains("Principal: {Service:") || line.contains("iam:PassedToService:");
        let mapping = line.trim_start().starts_with("Host: console.");
        if principal || mapping {
            continue;
        }
        assert!(
            !line.contains("amazonaws.com") && !line.contains("aws.amazon.com"),
            "line {}: {line}",
            i + 1
        );
    }
    for partition in ["aws:", "aws-cn:", "aws-us-gov:"] {
        assert!(
            TEMPLATE.contains(&format!("\n    {partition}\n      Host: console.")),
            "{partition}"
        );
    }
}

/// The keys of the state machine's DefinitionSubstitutions.
fn substitutions() -> Vec<String> {
    let lines = resource("DeployStateMachine");
    let start = lines
        .iter()
        .position(|l| l.trim() == "DefinitionSubstitutions:")
        .unwrap();
    lines[start + 1..]
        .iter()
        .filter(|l| !l.trim_start().starts_with('#'))
        .take_while(|l| l.starts_with("        "))
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
        .collect()
}

/// CloudFormation fills exactly the definition's placeholders; one left
/// unfilled would fail the state machine's creation.
#[test]
fn the_template_fills_every_placeholder_of_the_definition() {
    use crate::tasks::definition::DEPLOY_ASL;
    let mut placeholders: Vec<String> = DEPLOY_ASL
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    placeholders.sort();
    placeholders.dedup();
    let mut filled = substitutions();
    filled.sort();
    assert_eq!(filled, placeholders);
}

/// What CloudFormation makes of the definition with the template's default
/// timeout is JSON with a number there, the same number the demo's direct
/// installation uses.
#[test]
fn the_timeout_parameter_defaults_to_the_definitions_default() {
    use crate::tasks::definition::{DEFAULT_TIMEOUT_SECONDS, DEPLOY_ASL, TIMEOUT_PLACEHOLDER};
    let lines = resource(TIMEOUT_PLACEHOLDER);
    let default = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("Default: "))
        .unwrap();
    assert_eq!(default, DEFAULT_TIMEOUT_SECONDS.to_string());
    assert!(lines.iter().any(|l| l.trim() == "Type: Number"));
    // CloudFormation's text substitution, with the ARNs as any strings.
    let mut text = DEPLOY_ASL.replace(&format!("${{{TIMEOUT_PLACEHOLDER}}}"), default);
    for key in substitutions() {
        text = text.replace(&format!("${{{key}}}"), "arn:x");
    }
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["TimeoutSeconds"], DEFAULT_TIMEOUT_SECONDS);
}

/// The worker is told the staging bucket under the variable its flag
/// reads, and may write and read exactly where the code stages templates.
#[test]
fn the_worker_stages_large_templates_where_it_may() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let cli = std::fs::read_to_string(root.join("cli/worker.rs")).unwrap();
    assert!(cli.contains("env = \"CPSF_STAGING_BUCKET\""));
    let task = resource("WorkerTaskDefinition").join("\n");
    assert!(
        task.contains("- Name: CPSF_STAGING_BUCKET\n              Value: !Ref StagingBucket"),
        "{task}"
    );
    let code = std::fs::read_to_string(root.join("tasks/template.rs")).unwrap();
    assert!(
        code.contains("format!(\"cpsf/templates/"),
        "the staging key moved"
    );
    let role = resource("WorkerRole").join("\n");
    assert!(role.contains("Resource: !Sub \"${StagingBucket.Arn}/cpsf/templates/*\""));
    let bucket = resource("StagingBucket").join("\n");
    for private in [
        "BlockPublicPolicy: true",
        "SSEAlgorithm",
        "ExpirationInDays: 1",
    ] {
        assert!(bucket.contains(private), "{private}: {bucket}");
    }
}

/// kms:Decrypt exists only when a key is given, and only through S3.
#[test]
fn the_artifact_key_grant_is_conditional() {
    let policy = resource("ArtifactKeyPolicy").join("\n");
    assert!(policy.contains("Condition: HasArtifactKey"), "{policy}");
    assert!(policy.contains("Resource: !Ref ArtifactKeyArn"), "{policy}");
    assert!(policy.contains("kms:ViaService"), "{policy}");
    assert!(!resource("WorkerRole").join("\n").contains("kms:"));
}

/// Templates with a Transform need CreateChangeSet on the transform.
#[test]
fn the_worker_may_expand_transforms() {
    let role = resource("WorkerRole").join("\n");
    assert!(role.contains(
        "Action: cloudformation:CreateChangeSet\n                Resource: !Sub \
         \"arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/*\""
    ));
}
