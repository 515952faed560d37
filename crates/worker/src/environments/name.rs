//! An environment's name, made safe for a stack name (issue 19).
//!
//! A branch name such as `feature/JIRA-12_Login` may hold characters a
//! CloudFormation stack name may not (`[a-zA-Z][-a-zA-Z0-9]*`, CreateStack
//! in the CloudFormation API reference), so the name is sanitised, the same
//! way everywhere (deploy, teardown, `cpsf environments`):
//!
//! 1. ASCII letters are lowercased: many resources a template names after
//!    its environment must be lowercase (S3 buckets, DNS names), and
//!    `Feature-1` and `feature-1` are then one environment, not two.
//! 2. Every character other than `a-z` and `0-9` becomes `-`
//!    (`/`, `_`, `.`, spaces, non-ASCII letters).
//! 3. Runs of `-` become one, and `-` at either end is dropped.
//!
//! What is left must be 1 to [`MAX_LEN`] characters: the longest DNS label,
//! so the name fits a hostname too. A name is never cut short, because two
//! long branches would then share one environment.

/// The longest environment name once sanitised (a DNS label's limit).
pub const MAX_LEN: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "environment {raw:?} has no letters or digits, so nothing is left once it is made \
         stack-name safe: give a name such as the branch's (feature-123)"
    )]
    Empty { raw: String },
    #[error(
        "environment {raw:?} is {len} characters once made stack-name safe ({sanitised}); \
         the limit is {MAX_LEN}: use a shorter name (e.g. the ticket number)"
    )]
    TooLong {
        raw: String,
        sanitised: String,
        len: usize,
    },
}

/// The stack-name-safe form of `raw` (module docs), or why there is none.
pub fn sanitise(raw: &str) -> Result<String, NameError> {
    let mut name = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        return Err(NameError::Empty { raw: raw.into() });
    }
    if name.len() > MAX_LEN {
        return Err(NameError::TooLong {
            raw: raw.into(),
            len: name.len(),
            sanitised: name,
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_become_lowercase_hyphenated_names() {
        let cases = [
            ("feature-123", "feature-123"),
            ("feature/JIRA-12_Login", "feature-jira-12-login"),
            ("Feature-1", "feature-1"),
            ("  /fix//dots.and__more/ ", "fix-dots-and-more"),
            ("café-crème", "caf-cr-me"),
            ("123", "123"),
        ];
        for (raw, expected) in cases {
            assert_eq!(sanitise(raw).unwrap(), expected, "{raw}");
        }
    }

    #[test]
    fn nothing_left_or_too_long_is_refused_saying_the_limit() {
        for raw in ["", "---", "/_/", "ééé"] {
            assert!(
                matches!(sanitise(raw), Err(NameError::Empty { .. })),
                "{raw}"
            );
        }
        assert_eq!(sanitise(&"a".repeat(MAX_LEN)).unwrap().len(), MAX_LEN);
        let long = format!("feature/{}", "x".repeat(60));
        let error = sanitise(&long).unwrap_err();
        assert!(
            matches!(error, NameError::TooLong { len: 68, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("the limit is 63"), "{error}");
    }
}
