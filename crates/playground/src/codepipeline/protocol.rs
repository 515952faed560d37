//! The AWS JSON 1.1 protocol as CodePipeline speaks it: errors, timestamps,
//! request decoding.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The `X-Amz-Target` prefix of every CodePipeline operation.
pub const TARGET_PREFIX: &str = "CodePipeline_20150709.";

/// An error as AWS returns it: HTTP 400 with `{"__type": code, "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationException", message)
    }

    pub fn body(&self) -> Value {
        json!({ "__type": self.code, "message": self.message })
    }
}

pub type ApiResult = Result<Value, ApiError>;

/// Decodes an operation's input; a missing or mistyped member is a
/// ValidationException, as the real service answers.
pub fn decode<T: DeserializeOwned>(input: Value) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::validation(format!("invalid request: {e}")))
}

/// Wire timestamps are epoch seconds with a fraction.
pub fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Checks a required string member's length, 1..`max` (every job-result
/// string in the API model has min 1), the way AWS's validation does.
pub fn check_len_1(member: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             Member must have length greater than or equal to 1"
        )));
    }
    check_len(member, value, max)
}

/// Checks a map's keys against the model's pattern (anchored: the whole key
/// must match), with AWS's message for a map key constraint.
pub fn check_keys<'a>(
    member: &str,
    keys: impl IntoIterator<Item = &'a String>,
    pattern: &str,
) -> Result<(), ApiError> {
    let whole = whole(pattern);
    match keys.into_iter().find(|k| !whole.is_match(k)) {
        None => Ok(()),
        Some(key) => Err(ApiError::validation(format!(
            "1 validation error detected: Value '{key}' at '{member}' failed to satisfy constraint: \
             Map keys must satisfy constraint: [Member must satisfy regular expression pattern: {pattern}]"
        ))),
    }
}

/// Checks a string member against the model's pattern (anchored: the whole
/// value must match), with AWS's validation message.
pub fn check_pattern(member: &str, value: &str, pattern: &str) -> Result<(), ApiError> {
    if whole(pattern).is_match(value) {
        return Ok(());
    }
    Err(ApiError::validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {pattern}"
    )))
}

/// The model's `pattern`, matching only a whole value (as AWS applies it).
fn whole(pattern: &str) -> regex_lite::Regex {
    regex_lite::Regex::new(&format!("^(?:{pattern})$")).expect("a model's pattern")
}

/// Checks a string member's length the way AWS's validation does.
pub fn check_len(member: &str, value: &str, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             Member must have length less than or equal to {max} (got {len})"
        )));
    }
    Ok(())
}

/// Opaque pagination: the token is the offset of the next item.
pub fn paginate<T: Clone>(
    items: &[T],
    next_token: Option<&str>,
    max_results: Option<usize>,
    default_max: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match next_token {
        None => 0,
        Some(t) => t
            .strip_prefix("offset-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                ApiError::new("InvalidNextTokenException", "The next token is not valid")
            })?,
    };
    let max = max_results.unwrap_or(default_max).max(1);
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("offset-{end}"));
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paginate_walks_all_items_and_rejects_bad_tokens() {
        let items: Vec<u32> = (0..5).collect();
        let (page, next) = paginate(&items, None, Some(2), 100).unwrap();
        assert_eq!(page, vec![0, 1]);
        let (page, next) = paginate(&items, next.as_deref(), Some(2), 100).unwrap();
        assert_eq!(page, vec![2, 3]);
        let (page, next) = paginate(&items, next.as_deref(), Some(2), 100).unwrap();
        assert_eq!((page, next), (vec![4], None));
        let err = paginate(&items, Some("bogus"), None, 100).unwrap_err();
        assert_eq!(err.code, "InvalidNextTokenException");
    }

    #[test]
    fn keys_are_checked_whole_and_empty_ones_refused() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_keys("m", &keys(&["ab1"]), "[a-z0-9]+").is_ok());
        let err = check_keys("m", &keys(&["ab", "a b"]), "[a-z0-9]+").unwrap_err();
        assert!(
            err.message.contains("Value 'a b' at 'm'"),
            "{}",
            err.message
        );
        assert!(check_keys("m", &keys(&[""]), "[a-z0-9]+").is_err());
        assert!(check_len_1("m", "", 3).is_err() && check_len_1("m", "a", 3).is_ok());
    }

    #[test]
    fn check_len_names_the_member_and_limit() {
        assert!(check_len("summary", "abc", 3).is_ok());
        let err = check_len("summary", "abcd", 3).unwrap_err();
        assert_eq!(err.code, "ValidationException");
        assert!(err.message.contains("'summary'") && err.message.contains("3"));
    }
}
