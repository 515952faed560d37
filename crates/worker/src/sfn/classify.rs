//! Which Step Functions errors say "try again later" and which say "the
//! worker's role may not do this": the two a job must not report as a
//! plain `JobFailed`.
//!
//! - Permission: `AccessDeniedException` is one of the errors common to
//!   every AWS API (Step Functions API reference, "Common Errors", HTTP
//!   400); `UnrecognizedClientException` is the same family (the caller's
//!   credentials are not valid); `KmsAccessDeniedException` is modeled on
//!   StartExecution ("Either your KMS key policy or API caller does not have
//!   the required permissions"). CodePipeline has a failure type for it:
//!   `PermissionError` (PutJobFailureResult, FailureDetails.type).
//! - Transient: `ThrottlingException` (HTTP 400) and every 5xx
//!   (`InternalFailure` 500, `ServiceUnavailable` 503) are the common
//!   errors AWS says to retry; `KmsThrottlingException` and
//!   `ExecutionLimitExceeded` ("Running executions must end or be stopped
//!   before a new execution can be started") are StartExecution's own
//!   (botocore stepfunctions/2016-11-23/service-2.json). So are calls that
//!   got no answer at all (timeouts, connections refused). Each has already
//!   outlasted the SDK's retries when it reaches us.

use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    Permission,
    Transient,
    Other,
}

const PERMISSION: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "KmsAccessDeniedException",
    "UnrecognizedClientException",
];

const TRANSIENT: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "KmsThrottlingException",
    "ExecutionLimitExceeded",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Classifies a service's answer by its error code and HTTP status.
pub fn classify(code: Option<&str>, status: Option<u16>) -> ErrorClass {
    if let Some(code) = code {
        if PERMISSION.contains(&code) {
            return ErrorClass::Permission;
        }
        if TRANSIENT.contains(&code) {
            return ErrorClass::Transient;
        }
    }
    match status {
        Some(429) | Some(500..=599) => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

/// Classifies any SDK error: an answer by its code and status; no answer
/// at all (timed out, not sent, unreadable) as transient.
pub fn class_of<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> ErrorClass
where
    R: HasStatus,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        SdkError::ServiceError(context) => {
            classify(context.err().code(), Some(context.raw().status_code()))
        }
        _ => ErrorClass::Other,
    }
}

/// The HTTP status of a raw response (a trait so tests need no HTTP types).
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_sfn::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_their_class() {
        let table = [
            (
                Some("AccessDeniedException"),
                Some(400),
                ErrorClass::Permission,
            ),
            (
                Some("KmsAccessDeniedException"),
                Some(400),
                ErrorClass::Permission,
            ),
            (
                Some("ThrottlingException"),
                Some(400),
                ErrorClass::Transient,
            ),
            (
                Some("ExecutionLimitExceeded"),
                Some(400),
                ErrorClass::Transient,
            ),
            (Some("InternalFailure"), Some(500), ErrorClass::Transient),
            (None, Some(503), ErrorClass::Transient),
            (None, Some(429), ErrorClass::Transient),
            (Some("SomethingNew"), Some(502), ErrorClass::Transient),
            (Some("ValidationException"), Some(400), ErrorClass::Other),
            (Some("InvalidName"), Some(400), ErrorClass::Other),
            (None, None, ErrorClass::Other),
        ];
        for (code, status, class) in table {
            assert_eq!(classify(code, status), class, "{code:?} {status:?}");
        }
    }
}
