//! bootstrap/cpsf.yaml's worker role cut out as a template of its own,
//! for the playground to install (`worker_role.rs`).
//!
//! The role is read from the template, never a copy: its lines are cut out
//! of bootstrap/cpsf.yaml ([`cpsf_worker::bootstrap::text`]) and installed
//! through the playground's CloudFormation, which resolves `!Sub`, `!Ref`,
//! `!Split` and the conditions as it does for the real stack. The other
//! resources of the template that the policies name (the state machine,
//! the activities, buckets, queues) are not in that stack: each becomes a
//! parameter holding the playground's own resource (`!GetAtt X.Arn` is
//! read as `!Ref XArn`), and a reference the playground has no stand-in
//! for is an error that names it.
//!
//! The text is changed only where the playground must differ from the
//! real stack (`worker_role.rs` lists each difference and its reason):
//! the role trusts the account, `AWS::IAM::RolePolicy` becomes
//! `AWS::IAM::Policy`, SQS batch actions go beside the single ones, and
//! a condition on `cloudformation:ChangeSetName` holds only when the key
//! is there.

use crate::names::ACCOUNT_ID;
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;

/// The role's resource in the template.
const ROLE: &str = "WorkerRole";
/// The template's roles the playground installs: the worker's; the state
/// machine's, since Step Functions checking IAM wants the role a state
/// machine names to exist (MiniStack does not evaluate its policies); and
/// the deployed stacks' CloudFormation service role, the only one the
/// worker may pass.
const ROLES: [&str; 3] = [ROLE, "StateMachineRole", "CloudFormationServiceRole"];

/// bootstrap/cpsf.yaml's worker role and its policies as a template of
/// their own.
#[derive(Debug, Clone)]
pub struct RoleTemplate {
    body: String,
}

impl RoleTemplate {
    /// The role of bootstrap/cpsf.yaml as compiled in.
    pub fn from_bootstrap() -> Result<Self> {
        Self::cut(cpsf_worker::bootstrap::TEMPLATE)
    }

    /// The roles of [`ROLES`] and each IAM policy resource that names one,
    /// with the template's parameters, mappings and conditions.
    pub fn cut(template: &str) -> Result<Self> {
        use cpsf_worker::bootstrap::text::{resource, resource_names, section};
        let mut resources = Vec::new();
        let mut included = Vec::new();
        for name in resource_names(template) {
            let lines = resource(template, name).context("a listed resource")?;
            let attached = lines.iter().any(|l| {
                l.trim_start().starts_with("Type: AWS::IAM::") && l.trim_end().ends_with("Policy")
            }) && ROLES
                .iter()
                .any(|role| lines.iter().any(|l| l.contains(&format!("!Ref {role}"))));
            if name == ROLE {
                resources.push(format!("  {name}:\n{}", trusting_the_account(&lines)?));
            } else if ROLES.contains(&name) {
                resources.push(format!("  {name}:\n{}", lines.join("\n")));
            } else if attached {
                resources.push(format!("  {name}:\n{}", as_policy(&lines).join("\n")));
            } else {
                continue;
            }
            included.push(name.to_string());
        }
        if let Some(missing) = ROLES.iter().find(|r| !included.iter().any(|i| i == *r)) {
            bail!("the template has no {missing}");
        }
        let resources = change_set_name_if_exists(&with_list_aliases(&with_sqs_batch_actions(
            &read_get_att_as_ref(&resources.join("\n"), &included),
        )));
        let mut body = String::from(
            "AWSTemplateFormatVersion: \"2010-09-09\"\n\
             Description: bootstrap/cpsf.yaml's worker role, cut out for the playground \
             (src/local/worker_role.rs)\n",
        );
        let parameters = section(template, "Parameters").unwrap_or_default();
        let declared = declared_keys(&parameters);
        let mut stand_ins: BTreeSet<String> = references(&resources).into_iter().collect();
        stand_ins.retain(|r| !declared.contains(r) && !included.contains(r));
        body.push_str("Parameters:\n");
        body.push_str(&parameters.join("\n"));
        for name in &stand_ins {
            body.push_str(&format!(
                "\n  {name}:\n    Type: String\n    Description: {STAND_IN}\n"
            ));
        }
        for name in ["Mappings", "Conditions"] {
            if let Some(lines) = section(template, name) {
                body.push_str(&format!("\n{name}:\n{}\n", lines.join("\n")));
            }
        }
        body.push_str(&format!(
            "\nResources:\n{resources}\nOutputs:\n  WorkerRoleArn:\n    Value: !GetAtt {ROLE}.Arn\n"
        ));
        Ok(Self { body })
    }

    /// The same role without the statement `sid` (a test shows what a
    /// grant missing from the template does).
    pub fn without_statement(&self, sid: &str) -> Result<Self> {
        let lines: Vec<&str> = self.body.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.trim() == format!("- Sid: {sid}"))
            .with_context(|| format!("the worker role has no statement {sid}"))?;
        let indent = indentation(lines[start]);
        let end = lines[start + 1..]
            .iter()
            .position(|l| !l.trim().is_empty() && indentation(l) <= indent)
            .map_or(lines.len(), |n| start + 1 + n);
        let mut kept = lines[..start].to_vec();
        kept.extend(&lines[end..]);
        Ok(Self {
            body: kept.join("\n") + "\n",
        })
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    /// The parameters that stand in for the template's other resources.
    pub(super) fn stand_ins(&self) -> Vec<String> {
        let lines: Vec<&str> = self.body.lines().collect();
        lines
            .windows(3)
            .filter(|w| w[2].trim() == format!("Description: {STAND_IN}"))
            .filter_map(|w| Some(w[0].trim().strip_suffix(':')?.to_string()))
            .collect()
    }
}

/// How a stand-in parameter is described in the cut-out template.
const STAND_IN: &str = "the playground's stand-in for this resource of bootstrap/cpsf.yaml";

/// The role's lines with one more statement in its trust policy: the
/// account may assume it (see the module's comment).
fn trusting_the_account(lines: &[&str]) -> Result<String> {
    let trust = lines
        .iter()
        .position(|l| l.trim() == "AssumeRolePolicyDocument:")
        .context("the worker role has no AssumeRolePolicyDocument")?;
    let statement = lines[trust..]
        .iter()
        .position(|l| l.trim() == "Statement:")
        .map(|n| trust + n)
        .context("the worker role's trust policy has no Statement")?;
    let pad = " ".repeat(indentation(lines[statement]) + 2);
    let added = [
        format!("{pad}# Added by the playground: the account assumes the role (ECS on AWS)."),
        format!("{pad}- Sid: PlaygroundAssumesTheRole"),
        format!("{pad}  Effect: Allow"),
        format!("{pad}  Principal: {{AWS: \"arn:aws:iam::{ACCOUNT_ID}:root\"}}"),
        format!("{pad}  Action: sts:AssumeRole"),
    ];
    let mut out: Vec<String> = lines[..=statement].iter().map(|l| l.to_string()).collect();
    out.extend(added);
    out.extend(lines[statement + 1..].iter().map(|l| l.to_string()));
    Ok(out.join("\n"))
}

/// The SQS batch actions beside the single ones the template grants, in
/// the same statement. AWS authorises DeleteMessageBatch as
/// sqs:DeleteMessage and ChangeMessageVisibilityBatch as
/// sqs:ChangeMessageVisibility (Amazon SQS developer guide, "Amazon SQS API
/// permissions: Actions and resource reference"), so the template grants
/// only those; MiniStack 1.5.33 asks for actions named after the batch
/// APIs (docs/emulators.md), which these lines give it, on the same queues
/// and only where the template grants the single action.
fn with_sqs_batch_actions(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        out.push(line.to_string());
        let action = line.trim();
        if action == "- sqs:DeleteMessage" || action == "- sqs:ChangeMessageVisibility" {
            out.push(format!("{line}Batch"));
        }
    }
    out.join("\n")
}

/// `lambda:ListAliases` beside each grant of `lambda:GetAlias`, on the
/// same functions. AWS authorises GetAlias as `lambda:GetAlias` (Service
/// Authorization Reference, AWS Lambda); MiniStack 1.5.33 asks for
/// `lambda:ListAliases` (docs/emulators.md), which this gives it only
/// where the template grants GetAlias (a canary's, `tasks/canary.rs`).
pub fn with_list_aliases(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once("Action: lambda:GetAlias") {
            Some((pad, rest)) if rest.trim().is_empty() => {
                format!("{pad}Action: [lambda:GetAlias, lambda:ListAliases]")
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each condition on `cloudformation:ChangeSetName` made `…IfExists`.
/// AWS puts the change set's name in an ExecuteChangeSet request's context
/// ("Controlling access with IAM", CloudFormation user guide:
/// `cloudformation:ChangeSetName`, "to control which change sets IAM users
/// can execute or delete"); MiniStack 1.5.33 leaves the key out, so a
/// `StringLike` on it never holds there and every ExecuteChangeSet is
/// refused (docs/emulators.md). With `IfExists` a request without the key
/// passes; that the names cpsf gives match the template's patterns is
/// checked statically (`bootstrap::template_tests`,
/// `only_change_sets_cpsf_names_may_be_executed`).
pub fn change_set_name_if_exists(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let on_the_name = lines
            .get(i + 1)
            .is_some_and(|next| next.trim().starts_with("cloudformation:ChangeSetName:"));
        match line.trim().strip_suffix(':') {
            Some(operator) if on_the_name && !operator.ends_with("IfExists") => {
                out.push(format!("{}{operator}IfExists:", &line[..indentation(line)]));
            }
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// An `AWS::IAM::RolePolicy` as the `AWS::IAM::Policy` that makes the same
/// inline policy of the same role (CloudFormation template reference,
/// AWS::IAM::Policy: "adds or updates an inline policy document that is
/// embedded in the specified IAM group, user or role"): MiniStack 1.5.33's
/// CloudFormation knows the one and not the other (docs/emulators.md).
fn as_policy(lines: &[&str]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let pad = &l[..indentation(l)];
            match l.trim().strip_prefix("RoleName: ") {
                _ if l.trim() == "Type: AWS::IAM::RolePolicy" => {
                    format!("{pad}Type: AWS::IAM::Policy")
                }
                Some(role) => format!("{pad}Roles: [{role}]"),
                None => l.to_string(),
            }
        })
        .collect()
}

/// `!GetAtt X.Attr` and `${X.Attr}` as references to a parameter `XAttr`
/// where the resource X is not `included` in the cut-out template (its
/// stand-in is).
fn read_get_att_as_ref(text: &str, included: &[String]) -> String {
    let get_att = regex_lite::Regex::new(r"!GetAtt (\w+)\.(\w+)").expect("a valid pattern");
    let in_sub = regex_lite::Regex::new(r"\$\{(\w+)\.(\w+)\}").expect("a valid pattern");
    let stand_in = |c: &regex_lite::Captures, form: fn(&str, &str) -> String| {
        if included.iter().any(|i| i == &c[1]) {
            c[0].to_string()
        } else {
            form(&c[1], &c[2])
        }
    };
    let text = get_att.replace_all(text, |c: &regex_lite::Captures| {
        stand_in(c, |r, a| format!("!Ref {r}{a}"))
    });
    in_sub
        .replace_all(&text, |c: &regex_lite::Captures| {
            stand_in(c, |r, a| format!("${{{r}{a}}}"))
        })
        .into_owned()
}

/// The names `!Ref` and `${…}` refer to, pseudo parameters (`AWS::…`) aside.
fn references(text: &str) -> Vec<String> {
    let pattern =
        regex_lite::Regex::new(r#"!Ref "?([\w:]+)|\$\{([\w:]+)\}"#).expect("a valid pattern");
    pattern
        .captures_iter(text)
        .filter_map(|c| c.get(1).or(c.get(2)))
        .map(|m| m.as_str().to_string())
        .filter(|name| !name.contains("::"))
        .collect()
}

/// The keys (two-space indented) of a section's lines.
fn declared_keys(lines: &[&str]) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("  ")?.strip_suffix(':'))
        .filter(|k| k.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_string)
        .collect()
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker_role::{NAME_PREFIX, STATES_ROLE};

    #[test]
    fn the_role_and_its_policies_are_cut_out_with_the_templates_parameters() {
        let role = RoleTemplate::from_bootstrap().unwrap();
        let body = role.body();
        for resource in [
            "  WorkerRole:",
            "  ArtifactKeyPolicy:",
            "  ApprovalTopicsPolicy:",
            "  TargetRolesPolicy:",
        ] {
            assert!(body.contains(&format!("\n{resource}\n")), "{resource}");
        }
        // The other roles the playground needs, and nothing else of the
        // template (e.g. the prune's role, the task definition that names
        // the worker role).
        for role in ["  StateMachineRole:", "  CloudFormationServiceRole:"] {
            assert!(body.contains(&format!("\n{role}\n")), "{role}");
        }
        for other in [
            "  PruneRole:",
            "  WorkerTaskDefinition:",
            "  TaskExecutionRole:",
        ] {
            assert!(!body.contains(other), "{other}");
        }
        // A role in the cut-out template is referred to as such.
        assert!(body.contains("Resource: !GetAtt CloudFormationServiceRole.Arn"));
        assert_eq!(
            STATES_ROLE,
            format!("arn:aws:iam::{ACCOUNT_ID}:role/{NAME_PREFIX}-states")
        );
        assert!(body.contains("RoleName: !Sub \"${NamePrefix}-states\""));
        assert!(body.contains("\n  NamePrefix:\n"));
        assert!(body.contains("\nConditions:\n  HasDeployedStackPolicy:"));
        assert!(!body.contains("!GetAtt JournalBucket.Arn"));
        assert!(body.contains("!Ref JournalBucketArn"));
        assert!(body.contains("${StagingBucketArn}/cpsf/templates/*"));
        assert!(body.contains("- Sid: PlaygroundAssumesTheRole"));
        // The role's other policies, as the same inline policies.
        assert!(!body.contains("AWS::IAM::RolePolicy"));
        assert!(body.contains("    Type: AWS::IAM::Policy\n"));
        assert!(body.contains("      Roles: [!Ref WorkerRole]\n"));
        // MiniStack's names of the SQS batch actions, beside each single
        // action the template grants (the events queue's and the
        // approvals queue's statements).
        assert_eq!(body.matches("- sqs:DeleteMessage\n").count(), 2);
        assert_eq!(body.matches("- sqs:DeleteMessageBatch\n").count(), 2);
        assert_eq!(
            body.matches("- sqs:ChangeMessageVisibilityBatch\n").count(),
            1
        );
    }

    /// MiniStack asks for lambda:ListAliases on GetAlias: granted beside
    /// GetAlias, in the worker's role and the target role, nowhere else.
    #[test]
    fn list_aliases_goes_beside_get_alias_only() {
        let body = RoleTemplate::from_bootstrap().unwrap().body;
        assert_eq!(
            body.matches("Action: [lambda:GetAlias, lambda:ListAliases]")
                .count(),
            1,
            "{body}"
        );
        let target = with_list_aliases(cpsf_worker::bootstrap::TARGET_TEMPLATE);
        assert_eq!(target.matches("lambda:ListAliases").count(), 1);
        assert_eq!(
            with_list_aliases("Action: lambda:GetAliases"),
            "Action: lambda:GetAliases"
        );
    }

    /// MiniStack leaves `cloudformation:ChangeSetName` out of a request,
    /// so the playground's roles hold that condition only when the key is
    /// there; everything else stays as the template says.
    #[test]
    fn the_change_set_name_condition_holds_only_when_the_key_is_there() {
        let role = RoleTemplate::from_bootstrap().unwrap();
        for body in [
            role.body().to_string(),
            change_set_name_if_exists(cpsf_worker::bootstrap::TARGET_TEMPLATE),
        ] {
            assert!(
                body.contains(
                    "  StringLikeIfExists:\n                    cloudformation:ChangeSetName:"
                ),
                "{body}"
            );
            assert!(
                !body.contains("  StringLike:\n                    cloudformation:ChangeSetName")
            );
        }
        let other = "Condition:\n  StringLike:\n    aws:PrincipalArn: x\n";
        assert_eq!(change_set_name_if_exists(other), other.trim_end());
    }

    #[test]
    fn a_statement_is_removed_whole_and_an_unknown_one_is_an_error() {
        let role = RoleTemplate::from_bootstrap().unwrap();
        let without = role
            .without_statement("ReadTemplatesFromArtifacts")
            .unwrap();
        assert!(!without.body().contains("ReadTemplatesFromArtifacts"));
        assert!(!without.body().contains("${ArtifactBucketName}/*"));
        // The statements either side are intact.
        assert!(without.body().contains("- Sid: PassOnlyTheServiceRole"));
        assert!(without.body().contains("- Sid: StageLargeTemplates"));
        assert_eq!(
            role.body().lines().count() - without.body().lines().count(),
            4
        );
        let error = role.without_statement("Nope").unwrap_err().to_string();
        assert_eq!(error, "the worker role has no statement Nope");
    }

    #[test]
    fn references_skip_pseudo_parameters() {
        let text =
            "!Sub \"arn:${AWS::Partition}:x:${NamePrefix}-y\"\n!Ref \"AWS::NoValue\"\n!Ref Queue";
        assert_eq!(references(text), ["NamePrefix", "Queue"]);
        assert_eq!(
            read_get_att_as_ref("!GetAtt A.Arn and ${B.Arn}/* ${C.Arn}", &["C".into()]),
            "!Ref AArn and ${BArn}/* ${C.Arn}"
        );
    }
}
