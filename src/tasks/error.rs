//! Task errors: a name a state machine's Catch or Retry can match, and a
//! cause a person can act on.

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

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
        Self::new("Cpsf.AwsUnavailable", cause)
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
            "ValidationError" | "ValidationException" => Self::template(cause),
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
