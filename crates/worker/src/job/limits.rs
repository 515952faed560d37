//! CodePipeline's limits on what a job worker sends, applied to every
//! report at the edge (`report.rs`), so that no path that builds a report
//! can forget one. A member over its limit is a ValidationException, and a
//! job whose every answer is refused is never answered at all. The limits
//! themselves are in `base/limits.rs`.

use super::decide::Report;
use crate::base::limits::{MAX_EXTERNAL_EXECUTION_ID, MAX_FAILURE_MESSAGE, MAX_SUMMARY};
use crate::base::text::{cut, utf16_len};

/// A failure message as PutJobFailureResult accepts it: 1..5,000.
pub fn failure_message(message: &str) -> String {
    if message.is_empty() {
        // The message is required and may not be empty.
        return "cpsf failed the job without saying why; please report it".into();
    }
    cut(message, MAX_FAILURE_MESSAGE)
}

/// A summary as ExecutionDetails accepts it: 1..2,048, or none at all.
pub fn summary(summary: &str) -> Option<String> {
    (!summary.is_empty()).then(|| cut(summary, MAX_SUMMARY))
}

/// An external execution id as CodePipeline accepts it, or none: a cut id
/// would name nothing, so one over 1,500 characters is left out (a Step
/// Functions execution ARN is far shorter).
pub fn external_id(id: &str) -> Option<String> {
    (!id.is_empty() && utf16_len(id) <= MAX_EXTERNAL_EXECUTION_ID).then(|| id.to_string())
}

/// `report` with its message and summary within the limits: what is sent,
/// and what a dry run shows.
pub fn fit(report: &Report) -> Report {
    match report.clone() {
        Report::Continue {
            token,
            summary: text,
            execution_arn,
        } => Report::Continue {
            token,
            summary: summary(&text).unwrap_or_default(),
            execution_arn,
        },
        Report::Succeed {
            summary: text,
            execution_arn,
            variables,
            output,
        } => Report::Succeed {
            summary: summary(&text).unwrap_or_default(),
            execution_arn,
            variables,
            output,
        },
        Report::Fail {
            kind,
            message,
            execution_arn,
        } => Report::Fail {
            kind,
            message: failure_message(&message),
            execution_arn: execution_arn.as_deref().and_then(external_id),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::text::MARK;
    use proptest::prelude::*;

    pub(crate) fn any_text() -> impl Strategy<Value = String> {
        // Any characters, multi-byte and outside the BMP included, around
        // and far past the limits.
        prop::collection::vec(any::<char>(), 0..7000).prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_failure_message_is_sendable(text in any_text()) {
            let out = failure_message(&text);
            prop_assert!((1..=MAX_FAILURE_MESSAGE).contains(&out.chars().count()));
            let kept = out.strip_suffix(MARK).unwrap_or(&out);
            prop_assert!(text.is_empty() || text.starts_with(kept));
        }
    }

    #[test]
    fn empty_and_oversized_members_are_left_out_or_filled_in() {
        assert_eq!(summary(""), None);
        assert_eq!(external_id(""), None);
        assert_eq!(external_id(&"a".repeat(1501)), None);
        assert_eq!(external_id("arn:x").as_deref(), Some("arn:x"));
        assert!(!failure_message("").is_empty());
    }
}
