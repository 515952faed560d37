//! Where the journal is kept: an S3 location or a directory, as
//! `--journal` names it, and the directory a worker uses when none is named.

use std::path::{Path, PathBuf};

/// Where the journal is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JournalLocation {
    S3 {
        bucket: String,
        /// Empty, or ending in `/`.
        prefix: String,
    },
    Directory(PathBuf),
}

impl std::fmt::Display for JournalLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            JournalLocation::Directory(dir) => write!(f, "{}", dir.display()),
        }
    }
}

impl std::str::FromStr for JournalLocation {
    type Err = String;

    /// `s3://bucket`, `s3://bucket/some/prefix`, or a directory's absolute
    /// path (`/var/lib/cpsf/journal`, or `file:///var/lib/cpsf/journal`).
    fn from_str(uri: &str) -> Result<Self, String> {
        let directory = uri.strip_prefix("file://").unwrap_or(uri);
        if directory.starts_with('/') {
            return Ok(JournalLocation::Directory(PathBuf::from(directory)));
        }
        let rest = uri.strip_prefix("s3://").ok_or_else(|| {
            format!(
                "the journal must be an s3://bucket[/prefix] URI or a directory's absolute path, not '{uri}'"
            )
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("the journal URI '{uri}' names no bucket"));
        }
        let prefix = prefix.trim_matches('/');
        Ok(JournalLocation::S3 {
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }
}

/// The journal's directory when none is named: `cpsf/journal` under the
/// XDG state directory (`$XDG_STATE_HOME`, else `~/.local/state`), as the
/// XDG Base Directory specification places state that should persist
/// between restarts. None without either variable.
pub fn default_directory(xdg_state_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    let base = match (xdg_state_home, home) {
        (Some(state), _) if state.starts_with('/') => PathBuf::from(state),
        (_, Some(home)) if home.starts_with('/') => Path::new(home).join(".local/state"),
        _ => return None,
    };
    Some(base.join("cpsf/journal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_location_is_a_bucket_and_an_optional_prefix_or_a_directory() {
        let at = |uri: &str| uri.parse::<JournalLocation>();
        assert_eq!(
            at("s3://cpsf-journal").unwrap(),
            JournalLocation::S3 {
                bucket: "cpsf-journal".into(),
                prefix: String::new()
            }
        );
        let prefix = |uri: &str| match at(uri).unwrap() {
            JournalLocation::S3 { prefix, .. } => prefix,
            other => panic!("{other:?}"),
        };
        assert_eq!(prefix("s3://b/jobs/pending/"), "jobs/pending/");
        assert_eq!(prefix("s3://b/jobs"), "jobs/");
        assert_eq!(
            at("/var/lib/cpsf/journal").unwrap(),
            JournalLocation::Directory("/var/lib/cpsf/journal".into())
        );
        assert_eq!(
            at("file:///srv/j").unwrap(),
            JournalLocation::Directory("/srv/j".into())
        );
        assert_eq!(
            at("cpsf-journal").unwrap_err(),
            "the journal must be an s3://bucket[/prefix] URI or a directory's absolute path, not 'cpsf-journal'"
        );
        assert_eq!(
            at("s3:///x").unwrap_err(),
            "the journal URI 's3:///x' names no bucket"
        );
    }

    #[test]
    fn with_no_journal_named_it_lives_in_the_state_directory() {
        assert_eq!(
            default_directory(Some("/run/state"), Some("/home/ci")),
            Some(PathBuf::from("/run/state/cpsf/journal"))
        );
        assert_eq!(
            default_directory(None, Some("/home/ci")),
            Some(PathBuf::from("/home/ci/.local/state/cpsf/journal"))
        );
        // The specification ignores a relative XDG_STATE_HOME.
        assert_eq!(
            default_directory(Some("state"), Some("/home/ci")),
            Some(PathBuf::from("/home/ci/.local/state/cpsf/journal"))
        );
        assert_eq!(default_directory(None, None), None);
    }
}
