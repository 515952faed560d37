//! What the pipeline shows of each target while its wave deploys (pure):
//! where the worker looks (the target's child execution, then its stack)
//! and the word it shows for what it finds. The looking itself is
//! `job/handle/target_status.rs`.

use super::rollout::execution_name;
use super::spec;
use crate::targets::key::TargetKey;
use serde_json::Value;

/// Where one target of a running rollout is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub key: TargetKey,
    pub stack_name: String,
    /// The target's child execution (`rollout::execution_name`).
    pub execution_arn: String,
}

/// The places of `names` in the rollout `execution_arn` runs with `input`
/// (the execution's own input, as DescribeExecution returns it). Empty when
/// the input is no rollout; a name the input does not have is left out.
pub fn places(input: &str, execution_arn: &str, names: &[String]) -> Vec<Place> {
    let Ok(deploy) = serde_json::from_str::<Value>(input) else {
        return Vec::new();
    };
    let (Ok(Some(rollout)), Some(stack_name)) = (spec::parse(&deploy), stack_of(&deploy)) else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| rollout.target(name))
        .map(|target| Place {
            key: TargetKey {
                name: target.name.clone(),
                account: target.account.clone(),
                region: target.region.clone(),
                role_arn: target.role_arn.clone(),
                staging_bucket: None,
            },
            stack_name: stack_name.clone(),
            execution_arn: sibling_arn(execution_arn, &execution_name(&target.name, execution_arn)),
        })
        .collect()
}

/// The stack each target deploys: an environment's (issue 19) when the
/// input names one, as every target's task input resolves it.
fn stack_of(deploy: &Value) -> Option<String> {
    let named = crate::environments::spec::parse(deploy).ok()?.environment;
    named
        .map(|e| e.stack_name)
        .or_else(|| deploy.get("stackName")?.as_str().map(str::to_string))
}

/// The ARN of execution `name` of the same state machine as `arn`
/// (`arn:aws:states:<region>:<account>:execution:<machine>:<name>`, Step
/// Functions developer guide, "Resource ARNs").
fn sibling_arn(arn: &str, name: &str) -> String {
    match arn.rsplit_once(':') {
        Some((machine, _)) => format!("{machine}:{name}"),
        None => name.to_string(),
    }
}

/// What was found of one target.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// Its child execution has not started (the Map has not reached it).
    NotStarted,
    /// Its child execution ended; `stack_status` from its output.
    Ended {
        succeeded: bool,
        stack_status: Option<String>,
    },
    /// Its child execution runs; its stack as DescribeStacks says, if any
    /// (`changed_at`: the stack's last update or creation, epoch seconds).
    Running {
        started: f64,
        stack: Option<(String, f64)>,
    },
}

/// The word the summary shows for a target: its stack's status once this
/// deploy has touched the stack ("UPDATE_IN_PROGRESS", "REVIEW_IN_PROGRESS"
/// while a new stack's change set is made); before that the stack's status
/// is the previous deploy's, so it says "preparing" (the check and the
/// change set run then).
pub fn label(seen: &Seen) -> String {
    match seen {
        Seen::NotStarted => "waiting".into(),
        Seen::Ended {
            succeeded: true,
            stack_status,
        } => stack_status.clone().unwrap_or_else(|| "done".into()),
        Seen::Ended {
            succeeded: false, ..
        } => "failed".into(),
        Seen::Running {
            started,
            stack: Some((status, changed_at)),
        } if changed_at >= started => status.clone(),
        Seen::Running { .. } => "preparing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROLLOUT: &str = "arn:aws:states:us-east-1:111111111111:execution:cpsf-deploy:job-1";

    #[test]
    fn places_come_from_the_rollouts_own_input() {
        let input = json!({
            "stackName": "app",
            "targets": [
                {"name": "tools", "region": "us-east-1"},
                {"name": "prod", "region": "eu-west-1",
                 "roleArn": "arn:aws:iam::222222222222:role/cpsf-target"}
            ]
        })
        .to_string();
        let found = places(&input, ROLLOUT, &["prod".into(), "gone".into()]);
        assert_eq!(found.len(), 1, "an unknown name is left out");
        let prod = &found[0];
        assert_eq!(prod.stack_name, "app");
        assert_eq!(prod.key.region, "eu-west-1");
        assert_eq!(prod.key.account.as_deref(), Some("222222222222"));
        assert_eq!(
            prod.key.role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/cpsf-target")
        );
        assert_eq!(
            prod.execution_arn,
            format!(
                "arn:aws:states:us-east-1:111111111111:execution:cpsf-deploy:{}",
                execution_name("prod", ROLLOUT)
            )
        );
        assert!(places(r#"{"stackName": "app"}"#, ROLLOUT, &["prod".into()]).is_empty());
        let mut branch: Value = serde_json::from_str(&input).unwrap();
        branch["environment"] = "Fix/1".into();
        let at = places(&branch.to_string(), ROLLOUT, &["prod".into()]);
        assert_eq!(at[0].stack_name, "app-fix-1", "the environment's stack");
        assert!(places("not json", ROLLOUT, &["prod".into()]).is_empty());
    }

    #[test]
    fn a_stack_shows_its_status_only_once_this_deploy_touched_it() {
        let running = |changed_at| Seen::Running {
            started: 100.0,
            stack: Some(("UPDATE_COMPLETE".into(), changed_at)),
        };
        assert_eq!(label(&running(50.0)), "preparing", "last deploy's status");
        assert_eq!(label(&running(150.0)), "UPDATE_COMPLETE");
        let new_stack = Seen::Running {
            started: 100.0,
            stack: None,
        };
        assert_eq!(label(&new_stack), "preparing");
        assert_eq!(label(&Seen::NotStarted), "waiting");
        let ended = |succeeded, status: Option<&str>| Seen::Ended {
            succeeded,
            stack_status: status.map(str::to_string),
        };
        assert_eq!(
            label(&ended(true, Some("CREATE_COMPLETE"))),
            "CREATE_COMPLETE"
        );
        assert_eq!(label(&ended(true, None)), "done");
        assert_eq!(label(&ended(false, Some("UPDATE_COMPLETE"))), "failed");
    }
}
