//! CodePipeline's limits on what a job worker sends, applied to every
//! report at the edge (`report.rs`), so that no path that builds a report
//! can forget one. A member over its limit is a ValidationException, and a
//! job whose every answer is refused is never answered at all.
//!
//! From the API model (botocore codepipeline/2015-07-09/service-2.json):
//! - `FailureDetails.message`: `Message`, length 1..5,000;
//! - `ExecutionDetails.summary`: `ExecutionSummary`, length 1..2,048;
//! - `externalExecutionId` (both): `ExecutionId`, length 1..1,500;
//! - `continuationToken`: `ContinuationToken`, length 1..2,048 (ours is a
//!   small JSON object, far below it: see `decide::Continuation`);
//! - `outputVariables`: keys match `[A-Za-z0-9@\-_]+`; all of an action's
//!   variables together at most 122,880 characters
//!   (`OutputVariablesSizeExceededException`; user guide, "Quotas").

use super::decide::Report;

pub const MAX_SUMMARY: usize = 2048;
pub const MAX_FAILURE_MESSAGE: usize = 5000;
pub const MAX_EXTERNAL_EXECUTION_ID: usize = 1500;
pub const MAX_OUTPUT_VARIABLES_CHARS: usize = 122_880;

/// Said at the end of a text that was cut.
const MARK: &str = " …[truncated]";

/// Cuts `text` to at most `max` characters on a character boundary, saying
/// so at the end; what is kept is a prefix of `text`. Length is counted in
/// UTF-16 code units, which is never less than the count of characters: a
/// service that counts either way accepts the result (an emoji is one
/// character but two UTF-16 units).
pub fn cut(text: &str, max: usize) -> String {
    if utf16_len(text) <= max {
        return text.to_string();
    }
    let mark = if utf16_len(MARK) < max { MARK } else { "" };
    let budget = max - utf16_len(mark);
    let mut used = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        end = at + c.len_utf8();
    }
    format!("{}{mark}", &text[..end])
}

fn utf16_len(text: &str) -> usize {
    text.encode_utf16().count()
}

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
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = String> {
        // Any characters, multi-byte and outside the BMP included, around
        // and far past the limits.
        prop::collection::vec(any::<char>(), 0..7000).prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_text_is_cut_within_the_limit_to_a_prefix(text in any_text(), max in 0usize..6000) {
            let out = cut(&text, max);
            prop_assert!(out.chars().count() <= max);
            prop_assert!(out.encode_utf16().count() <= max);
            if text.encode_utf16().count() <= max {
                prop_assert_eq!(&out, &text);
            } else {
                let kept = out.strip_suffix(MARK).unwrap_or(&out);
                prop_assert!(text.starts_with(kept));
            }
        }

        #[test]
        fn any_failure_message_is_sendable(text in any_text()) {
            let out = failure_message(&text);
            prop_assert!((1..=MAX_FAILURE_MESSAGE).contains(&out.chars().count()));
            let kept = out.strip_suffix(MARK).unwrap_or(&out);
            prop_assert!(text.is_empty() || text.starts_with(kept));
        }
    }

    #[test]
    fn a_cut_text_says_so_and_keeps_the_most_it_can() {
        let text = "😀".repeat(3000);
        let out = cut(&text, MAX_FAILURE_MESSAGE);
        assert!(out.ends_with(MARK));
        // 2 units an emoji: (5000 - 13) / 2 whole emoji fit.
        assert_eq!(out.chars().count(), (5000 - 13) / 2 + 13);
        assert_eq!(cut("abcdef", 3), "abc");
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
