//! Task errors: a name a state machine's Catch or Retry can match, and a
//! cause a person can act on.

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A transient AWS error: retried, by the state machine or within a wait.
pub const UNAVAILABLE: &str = "Cpsf.AwsUnavailable";

/// The stack status named in "… is in <STATUS> state and can not be
/// updated", if the message says that.
fn state_that_refused(message: &str) -> Option<&str> {
    let (before, _) = message.split_once(" state and can not be updated")?;
    let (_, state) = before.rsplit_once(" is in ")?;
    Some(state)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {cause}")]
pub struct TaskError {
    pub name: &'static str,
    pub cause: String,
}

impl TaskError {
    pub fn new(name: &'static str, cause: impl Into<String>) -> Self {
        Self {
            name,
            cause: cause.into(),
        }
    }

    /// The deploy input is wrong.
    pub fn input(cause: impl Into<String>) -> Self {
        Self::new("Cpsf.InputInvalid", cause)
    }

    pub fn template(cause: impl Into<String>) -> Self {
        Self::new("Cpsf.TemplateInvalid", cause)
    }

    /// Retried by the state machine.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self::new(UNAVAILABLE, cause)
    }

    /// A CloudFormation ValidationError, by what its message says: the API
    /// uses that one code for a busy stack, a role it cannot assume and a
    /// stack that already exists as well as for a bad template (the
    /// messages below are AWS's own words).
    pub fn from_validation(cause: String) -> Self {
        // "Stack:arn:aws:cloudformation:…:stack/app/… is in UPDATE_IN_PROGRESS
        // state and can not be updated."
        if let Some(state) = state_that_refused(&cause) {
            return if state.ends_with("_IN_PROGRESS") {
                Self::new(
                    "Cpsf.StackBusy",
                    format!("{cause} (another operation holds the stack; retried)"),
                )
            } else {
                Self::new(
                    "Cpsf.StackNotRecoverable",
                    format!(
                        "{cause} (fix the stack in the CloudFormation console, then run the pipeline again)"
                    ),
                )
            };
        }
        // "Role arn:aws:iam::123456789012:role/cfn is invalid or cannot be
        // assumed"
        if cause.contains("is invalid or cannot be assumed") {
            return Self::new(
                "Cpsf.Denied",
                format!(
                    "{cause}: CloudFormation could not assume the deploy input's roleArn. \
                     Check that the role exists, that its trust policy allows \
                     cloudformation.amazonaws.com, and that the worker may iam:PassRole it"
                ),
            );
        }
        // "Stack [app] already exists and cannot be created again with the
        // changeSet [cpsf-create-…]."
        if cause.contains("already exists and cannot be created again") {
            return Self::new(
                "Cpsf.StackConflict",
                format!("{cause}: another deploy, or someone else, created the stack first"),
            );
        }
        // "Stack [app-f] cannot be deleted while TerminationProtection is
        // enabled": protection turned on after CheckTeardown looked.
        if cause.contains("while TerminationProtection is enabled") {
            return Self::new(
                crate::environments::teardown::PROTECTED,
                format!("{cause}: cpsf never turns termination protection off"),
            );
        }
        Self::template(cause)
    }

    /// Classifies a CloudFormation (or S3) error that is not specific to the
    /// call: throttling and server errors are transient, access denied is
    /// not, a ValidationError is usually the template or its parameters.
    pub fn from_sdk<E, R>(operation: &str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = error.code().unwrap_or_default().to_string();
        let message = error.message().unwrap_or_default().to_string();
        let detail = if message.is_empty() {
            DisplayErrorContext(&error).to_string()
        } else {
            message
        };
        let cause = format!("{operation}: {detail}");
        match code.as_str() {
            "ValidationError" | "ValidationException" => Self::from_validation(cause),
            "InsufficientCapabilitiesException" | "InsufficientCapabilities" => Self::input(
                format!("{cause} (add the capability to the deploy input's \"capabilities\")"),
            ),
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                Self::new("Cpsf.Denied", cause)
            }
            _ => Self::unavailable(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TaskError;

    fn classified(message: &str) -> &'static str {
        TaskError::from_validation(format!("CreateChangeSet: {message}")).name
    }

    /// Each class with the message AWS sends.
    #[test]
    fn a_validation_error_is_classified_by_what_it_says() {
        assert_eq!(
            classified(
                "Stack:arn:aws:cloudformation:us-east-1:123456789012:stack/app/94bc8530-4882-11e6-8e9c-500c286e1a36 \
                 is in UPDATE_IN_PROGRESS state and can not be updated."
            ),
            "Cpsf.StackBusy"
        );
        assert_eq!(
            classified(
                "Stack:arn:aws:cloudformation:us-east-1:123456789012:stack/app/94bc8530 \
                 is in UPDATE_ROLLBACK_FAILED state and can not be updated."
            ),
            "Cpsf.StackNotRecoverable"
        );
        let role = TaskError::from_validation(
            "CreateChangeSet: Role arn:aws:iam::123456789012:role/cfn-deploy is invalid or cannot be assumed".into(),
        );
        assert_eq!(role.name, "Cpsf.Denied");
        assert!(role.cause.contains("role/cfn-deploy"), "{}", role.cause);
        assert_eq!(
            classified(
                "Stack [app] already exists and cannot be created again with the changeSet [cpsf-create-1]."
            ),
            "Cpsf.StackConflict"
        );
        assert_eq!(
            classified(
                "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template"
            ),
            "Cpsf.TemplateInvalid"
        );
        assert_eq!(
            classified("Stack [app-f] cannot be deleted while TerminationProtection is enabled"),
            "Cpsf.TerminationProtected"
        );
        assert_eq!(
            classified("Parameters: [Greeting] must have values"),
            "Cpsf.TemplateInvalid"
        );
    }
}
