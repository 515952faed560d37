//! One entry of the deploy input's `targets` (pure): where one copy of the
//! stack goes, and how the worker reaches it.

use super::limits::MAX_NAME;
use super::names::{
    bucket_name_problem, is_account, partition, region_problem, role_arn, target_name_problem,
};
use crate::base::spelling::closest;
use crate::base::text::json_kind;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The keys a target takes; any other is refused, so a misspelt key
/// (`regoin`, `rolearn`) never silently deploys somewhere else.
pub const TARGET_KEYS: &[&str] = &[
    "name",
    "account",
    "region",
    "roleArn",
    "cloudFormationRoleArn",
    "parameters",
    "stagingBucket",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Unique in the rollout; names the output variables and messages.
    pub name: String,
    /// The account the stack goes to, given or read from `role_arn`; None
    /// for the worker's own account.
    pub account: Option<String>,
    pub region: String,
    /// The role the worker assumes to reach the target (STS AssumeRole).
    pub role_arn: Option<String>,
    /// The CloudFormation service role for this target's stack, in place of
    /// the input's top-level `roleArn`.
    pub cloud_formation_role_arn: Option<String>,
    /// Override the top-level `parameters`, key by key.
    pub parameters: BTreeMap<String, Value>,
    /// A bucket in the target's account and region where a template over
    /// 51,200 bytes is staged for it (`cloudformation/template.rs` says why the
    /// worker's own cannot serve there).
    pub staging_bucket: Option<String>,
}

/// Parses `targets[index]`, adding every problem to `problems`. Returns the
/// target whenever its name is usable, even with other problems, so the
/// rollout's checks of names (waves, duplicates) still run; the caller
/// compares `problems` before and after to know whether it is sound.
pub(super) fn parse(index: usize, value: &Value, problems: &mut Vec<String>) -> Option<Target> {
    let Some(object) = value.as_object() else {
        problems.push(format!(
            "targets[{index}] must be an object like {{\"name\": \"prod-use1\", \"region\": \"us-east-1\"}}; it is {}",
            json_kind(value)
        ));
        return None;
    };
    let name = name(index, object, problems);
    let label = name
        .as_ref()
        .map_or(format!("targets[{index}]"), |n| format!("target '{n}'"));
    for key in object.keys().filter(|k| !TARGET_KEYS.contains(&k.as_str())) {
        let hint = closest(key, TARGET_KEYS)
            .map(|k| format!(" (did you mean '{k}'?)"))
            .unwrap_or_default();
        problems.push(format!(
            "{label} has an unknown key '{key}'{hint}: a target takes {}",
            TARGET_KEYS.join(", ")
        ));
    }
    let region = region(&label, object, problems);
    let account = account(&label, object, problems);
    let role = string(&label, object, "roleArn", problems);
    let cfn_role = string(&label, object, "cloudFormationRoleArn", problems);
    let mut target_account = account.clone();
    if let Some(arn) = &role {
        match role_arn(arn) {
            Err(why) => problems.push(not_a_role(&label, "roleArn", arn, &why)),
            Ok(role) => {
                same_partition(
                    &label,
                    "roleArn",
                    role.partition,
                    region.as_deref(),
                    problems,
                );
                match &account {
                    Some(account) if account != role.account => problems.push(format!(
                        "{label}: roleArn is in account {}, but account is {account}: the worker \
                         assumes a role in the target's own account; make the two agree",
                        role.account
                    )),
                    _ => target_account = Some(role.account.to_string()),
                }
            }
        }
    } else if let Some(account) = &account
        && !object.contains_key("roleArn")
    {
        problems.push(format!(
            "{label} is in account {account} but has no roleArn: the worker reaches another \
             account only by assuming a role there (STS AssumeRole); add the role's ARN as \
             roleArn (bootstrap/target-account.yaml makes one), or remove account to deploy \
             in the worker's own account"
        ));
    }
    if let Some(arn) = &cfn_role {
        match role_arn(arn) {
            Err(why) => problems.push(not_a_role(&label, "cloudFormationRoleArn", arn, &why)),
            Ok(role) => {
                same_partition(
                    &label,
                    "cloudFormationRoleArn",
                    role.partition,
                    region.as_deref(),
                    problems,
                );
                if let Some(account) = target_account.as_ref().filter(|a| *a != role.account) {
                    problems.push(format!(
                        "{label}: cloudFormationRoleArn is in account {}, but the target deploys \
                         in account {account}: CloudFormation takes a service role only from the \
                         stack's own account (iam:PassRole); use a role in {account}",
                        role.account
                    ));
                }
            }
        }
    }
    let parameters = parameters(&label, object, problems);
    let staging_bucket = string(&label, object, "stagingBucket", problems);
    if let Some(why) = staging_bucket.as_deref().and_then(bucket_name_problem) {
        problems.push(format!(
            "{label}: stagingBucket is no S3 bucket name: {why}"
        ));
    }
    Some(Target {
        name: name?,
        account: target_account,
        region: region.unwrap_or_default(),
        role_arn: role,
        cloud_formation_role_arn: cfn_role,
        parameters,
        staging_bucket,
    })
}

fn name(index: usize, object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<String> {
    let rule = format!(
        "use 1 to {MAX_NAME} letters, digits and hyphens, starting with a letter (the name \
         becomes the output variables <name>_StackId and <name>_Status)"
    );
    match object.get("name") {
        None => problems.push(format!("targets[{index}] has no name: {rule}")),
        Some(Value::String(name)) => match target_name_problem(name) {
            None => return Some(name.clone()),
            Some(why) => problems.push(format!(
                "targets[{index}] name '{name}' cannot name a target, {why}: {rule}"
            )),
        },
        Some(other) => problems.push(format!(
            "targets[{index}] name must be a string; it is {}: {rule}",
            json_kind(other)
        )),
    }
    None
}

fn region(label: &str, object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<String> {
    if !object.contains_key("region") {
        problems.push(format!(
            "{label} has no region: give the AWS region it deploys to, e.g. \"region\": \"us-east-1\""
        ));
        return None;
    }
    let region = string(label, object, "region", problems)?;
    match region_problem(&region) {
        None => Some(region),
        Some(why) => {
            problems.push(format!("{label}: region {why}"));
            None
        }
    }
}

fn account(label: &str, object: &Map<String, Value>, problems: &mut Vec<String>) -> Option<String> {
    let rule = "give its 12 digits as a string, e.g. \"account\": \"222222222222\"";
    match object.get("account")? {
        Value::String(account) if is_account(account) => return Some(account.clone()),
        Value::String(account) => problems.push(format!(
            "{label}: account '{account}' is not an AWS account id: {rule}"
        )),
        Value::Number(n) => problems.push(format!(
            "{label}: account {n} must be a string: as a number an account id loses its leading \
             zeros; {rule}"
        )),
        other => problems.push(format!(
            "{label}: account must be a string; it is {}: {rule}",
            json_kind(other)
        )),
    }
    None
}

/// `object[key]` when it is a string; a problem when it is anything else.
fn string(
    label: &str,
    object: &Map<String, Value>,
    key: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        other => {
            problems.push(format!(
                "{label}: {key} must be a string; it is {}",
                json_kind(other)
            ));
            None
        }
    }
}

fn not_a_role(label: &str, key: &str, arn: &str, why: &str) -> String {
    format!(
        "{label}: {key} '{arn}' is not an IAM role ARN ({why}); write \
         arn:<partition>:iam::<12-digit account>:role/<name>"
    )
}

fn same_partition(
    label: &str,
    key: &str,
    role: &str,
    region: Option<&str>,
    problems: &mut Vec<String>,
) {
    if let Some(region) = region.filter(|r| partition(r) != role) {
        problems.push(format!(
            "{label}: {key} is in partition {role}, but region {region} is in partition {}: \
             roles and credentials never cross partitions; use a role of {}",
            partition(region),
            partition(region)
        ));
    }
}

fn parameters(
    label: &str,
    object: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Value> {
    let Some(value) = object.get("parameters") else {
        return BTreeMap::new();
    };
    let Some(parameters) = value.as_object() else {
        problems.push(format!(
            "{label}: parameters must be an object like {{\"Stage\": \"prod\"}}; it is {}",
            json_kind(value)
        ));
        return BTreeMap::new();
    };
    for (key, value) in parameters {
        // Another stack's output, read in the target's account and region
        // (`references`): its shape is checked here with the rest.
        if let Some(Err(problem)) = crate::references::parse(key, value) {
            problems.push(format!("{label}: {problem}"));
            continue;
        }
        // What `activity::input::TaskInput::parameters` can pass to CloudFormation.
        if matches!(value, Value::Null) {
            problems.push(format!(
                "{label}: parameter '{key}' must be a string, number, boolean or list; it is {}",
                json_kind(value)
            ));
        }
    }
    parameters
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
