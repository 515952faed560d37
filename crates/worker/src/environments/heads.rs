//! A repository's branches, for `cpsf environments prune --branches-from`
//! (issue 29, item 3): an environment goes when its branch is no longer a
//! head. Pure: the text of `git ls-remote --heads <repository>` comes in
//! (the CLI runs git), the branches come out.
//!
//! An environment's stack records only its stack-safe name (the
//! `cpsf:environment` tag holds `name::sanitise` of the input's
//! `environment`, see `tags.rs`), not the branch as typed, so a head keeps
//! an environment when its sanitised form is that name: `feature/JIRA-12`
//! keeps `feature-jira-12`. Two branches that sanitise alike keep one
//! environment while either exists, which errs on the side of keeping.

use super::name;
use std::collections::BTreeSet;

/// The ref prefix of a branch (git-ls-remote(1): `--heads` limits the
/// answer to refs/heads).
const HEADS: &str = "refs/heads/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heads {
    /// Where they were read from, for messages.
    pub source: String,
    /// The branch names as git has them.
    pub branches: BTreeSet<String>,
    /// Their stack-safe names (branches with none are left out: no
    /// environment can be named after them).
    names: BTreeSet<String>,
}

impl Heads {
    /// Reads `git ls-remote --heads` output: one `<object id>\t<ref>` line
    /// per branch (git-ls-remote(1), "OUTPUT"). A repository with no branch
    /// is refused: every environment would look deleted, which is far more
    /// likely a wrong or empty repository than what the user meant.
    pub fn parse(source: &str, output: &str) -> Result<Heads, String> {
        let mut branches = BTreeSet::new();
        for (number, line) in output.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let branch = line
                .split_once('\t')
                .filter(|(id, _)| !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit()))
                .and_then(|(_, reference)| reference.strip_prefix(HEADS))
                .filter(|branch| !branch.is_empty())
                .ok_or_else(|| {
                    format!(
                        "git ls-remote --heads {source}: line {} is not \"<object id>\\trefs/heads/<branch>\": {line:?}",
                        number + 1
                    )
                })?;
            branches.insert(branch.to_string());
        }
        if branches.is_empty() {
            return Err(format!(
                "{source} has no branches: refusing to count every environment's branch as \
                 deleted (is it the right repository, and has it a commit?)"
            ));
        }
        let names = branches
            .iter()
            .filter_map(|b| name::sanitise(b).ok())
            .collect();
        Ok(Heads {
            source: source.to_string(),
            branches,
            names,
        })
    }

    /// Whether some head is the branch of the environment named `name`
    /// (its stack-safe name: module docs).
    pub fn has(&self, environment: &str) -> bool {
        self.names.contains(environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "3f2a9c0d3f2a9c0d3f2a9c0d3f2a9c0d3f2a9c0d";

    fn ls_remote(branches: &[&str]) -> String {
        branches
            .iter()
            .map(|b| format!("{SHA}\trefs/heads/{b}\n"))
            .collect()
    }

    #[test]
    fn branches_are_read_from_ls_remote_lines() {
        let heads = Heads::parse("repo", &ls_remote(&["main", "feature/JIRA-12_Login"])).unwrap();
        assert_eq!(
            heads.branches.iter().collect::<Vec<_>>(),
            ["feature/JIRA-12_Login", "main"]
        );
        assert_eq!(heads.source, "repo");
        // Environments are compared by their stack-safe names.
        assert!(heads.has("feature-jira-12-login"));
        assert!(heads.has("main"));
        assert!(!heads.has("feature/JIRA-12_Login"));
        assert!(!heads.has("feature-2"));
    }

    #[test]
    fn a_line_that_is_not_a_head_is_refused_naming_it() {
        for bad in [
            format!("{SHA} refs/heads/main"),
            format!("{SHA}\trefs/tags/v1"),
            format!("{SHA}\trefs/heads/"),
            "not-a-sha\trefs/heads/main".to_string(),
            "\trefs/heads/main".to_string(),
        ] {
            let error =
                Heads::parse("repo", &format!("{}{bad}\n", ls_remote(&["main"]))).unwrap_err();
            assert!(error.contains("line 2"), "{error}");
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn a_repository_without_branches_is_refused() {
        for empty in ["", "\n"] {
            let error = Heads::parse("/tmp/empty", empty).unwrap_err();
            assert!(error.contains("/tmp/empty has no branches"), "{error}");
        }
    }

    #[test]
    fn a_branch_with_no_stack_safe_name_keeps_nothing() {
        let heads = Heads::parse("repo", &ls_remote(&["main", "___"])).unwrap();
        assert_eq!(heads.branches.len(), 2);
        assert!(heads.has("main"));
        assert!(!heads.has(""));
    }
}
