//! Whether a stack may be torn down as an environment: the one rule both
//! the state machine's CheckTeardown and `cpsf environments prune` follow.
//!
//! cpsf deletes only what it can prove it deployed as that environment:
//! the stack carries `cpsf:environment` with the same name, and its name is
//! under the worker's stack prefix when one is set. It never turns off
//! termination protection (DeleteStack fails on a protected stack:
//! CloudFormation user guide, "Protect a stack from being deleted"), and it
//! never starts a delete while another operation runs.

use super::tags::Stamp;

/// What is known of a stack, from DescribeStacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<'a> {
    pub stack_name: &'a str,
    pub status: &'a str,
    pub stamp: Option<&'a Stamp>,
    pub termination_protection: bool,
}

impl<'a> Found<'a> {
    /// What DescribeStacks said of `stack`, whose tags read `stamp`.
    pub fn of(
        stack_name: &'a str,
        stack: &'a aws_sdk_cloudformation::types::Stack,
        stamp: Option<&'a Stamp>,
    ) -> Self {
        Found {
            stack_name,
            status: stack.stack_status().map(|s| s.as_str()).unwrap_or_default(),
            stamp,
            termination_protection: stack.enable_termination_protection().unwrap_or(false),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// No such stack, or it is already deleted: nothing to do.
    Gone,
    /// Delete it (a stack whose last delete failed is deleted again).
    Delete,
}

/// Why a stack is not torn down: an error name for the state machine and
/// a sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub why: String,
}

pub const NOT_AN_ENVIRONMENT: &str = "Cpsf.NotAnEnvironment";
pub const PROTECTED: &str = "Cpsf.TerminationProtected";
pub const BUSY: &str = "Cpsf.StackBusy";

/// The decision for environment `environment`'s stack.
pub fn decide(
    environment: &str,
    prefix: Option<&str>,
    found: Option<&Found>,
) -> Result<Next, Refusal> {
    let Some(found) = found.filter(|f| f.status != "DELETE_COMPLETE") else {
        return Ok(Next::Gone);
    };
    let stack = found.stack_name;
    if let Some(prefix) = prefix.filter(|p| !stack.starts_with(*p)) {
        return Err(Refusal {
            error: NOT_AN_ENVIRONMENT,
            why: format!(
                "stack {stack} is not under this worker's stack prefix {prefix:?}: cpsf deletes \
                 only the stacks it may deploy"
            ),
        });
    }
    owned(environment, stack, found.stamp)?;
    if found.termination_protection {
        return Err(Refusal {
            error: PROTECTED,
            why: format!(
                "stack {stack} has termination protection: cpsf never turns it off. Turn it off \
                 (aws cloudformation update-termination-protection --no-enable-termination-protection \
                 --stack-name {stack}) if the environment should go"
            ),
        });
    }
    // A delete that failed, or one under way, is deleted (again): DeleteStack
    // accepts both, and the wait that follows sees it through.
    if found.status.ends_with("_IN_PROGRESS") && found.status != "DELETE_IN_PROGRESS" {
        return Err(Refusal {
            error: BUSY,
            why: format!(
                "stack {stack} is {}: another operation is running; tear it down once it ends",
                found.status
            ),
        });
    }
    Ok(Next::Delete)
}

/// Whether stack `stack` is environment `environment`'s by its tags: a
/// deploy never takes over, and a teardown never deletes, a stack cpsf did
/// not deploy as that environment.
pub fn owned(environment: &str, stack: &str, stamp: Option<&Stamp>) -> Result<(), Refusal> {
    match stamp.map(|s| s.environment.as_str()) {
        None => Err(Refusal {
            error: NOT_AN_ENVIRONMENT,
            why: format!(
                "stack {stack} has no {} tag, so cpsf did not deploy it as an environment: \
                 it is left alone (delete it yourself, or tag it {}={environment} to adopt it)",
                super::tags::ENVIRONMENT,
                super::tags::ENVIRONMENT,
            ),
        }),
        Some(tagged) if tagged != environment => Err(Refusal {
            error: NOT_AN_ENVIRONMENT,
            why: format!(
                "stack {stack} is environment {tagged:?} by its {} tag, not {environment:?}: \
                 it is left alone",
                super::tags::ENVIRONMENT
            ),
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(environment: &str) -> Stamp {
        Stamp {
            environment: environment.into(),
            pipeline: None,
            revision: None,
            deployed_at: None,
            ttl: None,
        }
    }

    fn found<'a>(status: &'a str, stamp: Option<&'a Stamp>, protected: bool) -> Found<'a> {
        Found {
            stack_name: "app-f",
            status,
            stamp,
            termination_protection: protected,
        }
    }

    #[test]
    fn a_tagged_stable_or_failed_stack_is_deleted_and_a_missing_one_is_gone() {
        let tagged = stamp("f");
        for status in [
            "CREATE_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE",
            "DELETE_FAILED",
            "DELETE_IN_PROGRESS",
        ] {
            let found = found(status, Some(&tagged), false);
            assert_eq!(
                decide("f", Some("app-"), Some(&found)),
                Ok(Next::Delete),
                "{status}"
            );
        }
        assert_eq!(decide("f", None, None), Ok(Next::Gone));
        let deleted = found("DELETE_COMPLETE", Some(&tagged), false);
        assert_eq!(decide("f", None, Some(&deleted)), Ok(Next::Gone));
    }

    #[test]
    fn untagged_other_protected_busy_or_outside_stacks_are_refused_saying_why() {
        let (tagged, other) = (stamp("f"), stamp("g"));
        let cases = [
            (
                found("CREATE_COMPLETE", None, false),
                None,
                NOT_AN_ENVIRONMENT,
                "has no cpsf:environment tag",
            ),
            (
                found("CREATE_COMPLETE", Some(&other), false),
                None,
                NOT_AN_ENVIRONMENT,
                "is environment \"g\"",
            ),
            (
                found("CREATE_COMPLETE", Some(&tagged), false),
                Some("team-"),
                NOT_AN_ENVIRONMENT,
                "prefix \"team-\"",
            ),
            (
                found("UPDATE_COMPLETE", Some(&tagged), true),
                None,
                PROTECTED,
                "termination protection",
            ),
            (
                found("UPDATE_IN_PROGRESS", Some(&tagged), false),
                None,
                BUSY,
                "another operation",
            ),
        ];
        for (found, prefix, error, why) in cases {
            let refused = decide("f", prefix, Some(&found)).unwrap_err();
            assert_eq!(refused.error, error, "{refused:?}");
            assert!(refused.why.contains(why), "{why}: {}", refused.why);
        }
    }
}
