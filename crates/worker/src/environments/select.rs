//! Which environments `cpsf environments prune` takes (issue 19): those
//! whose last deploy is older than `--older-than`, or whose own
//! `ttlHours` has passed, or (issue 29) whose branch is no longer a head
//! of `--branches-from`'s repository, among those `--match` names. Pure:
//! the listing, the heads and the clock come in.

use super::heads::Heads;
use super::listing::Listed;
use std::time::{Duration, SystemTime};

/// Why an environment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Its last deploy is older than the limit.
    Stale { age: Duration },
    /// Its `ttlHours` passed.
    Expired { age: Duration, ttl: Duration },
    /// No head of the repository (`source`) is its branch.
    BranchGone { source: String },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Stale { age } => write!(f, "last deployed {} ago", short(*age)),
            Reason::Expired { age, ttl } => {
                write!(f, "ttl {} passed ({} ago)", short(*ttl), short(*age))
            }
            // Said plainly: only the stack-safe name is recorded
            // (heads.rs), so that is what the heads were compared as.
            Reason::BranchGone { source } => write!(
                f,
                "no branch of {source} has this name (branches compared as stack-safe names)"
            ),
        }
    }
}

/// What prune does with one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    Prune(Reason),
    /// Selected by age, but never touched: why.
    Spare(String),
}

#[derive(Debug, Clone)]
pub struct Criteria {
    pub older_than: Option<Duration>,
    /// A glob over environment names (`feature-*`); None: every one.
    pub matching: Option<wildmatch::WildMatch>,
    /// `--branches-from`: the repository's heads; None: branches are not
    /// looked at.
    pub branches: Option<Heads>,
    pub now: SystemTime,
}

/// Each listed environment the criteria select, with what happens to it.
/// An environment neither stale, expired nor of a deleted branch, or not
/// matched, is not in the answer at all.
pub fn select<'a>(listed: &'a [Listed], criteria: &Criteria) -> Vec<(&'a Listed, Pick)> {
    listed
        .iter()
        .filter(|l| {
            criteria
                .matching
                .as_ref()
                .is_none_or(|m| m.matches(&l.environment))
        })
        .filter_map(|l| {
            let age = criteria
                .now
                .duration_since(l.last_deploy)
                .unwrap_or_default();
            let reason = match (l.ttl, criteria.older_than) {
                (Some(ttl), _) if age > ttl => Reason::Expired { age, ttl },
                (_, Some(limit)) if age > limit => Reason::Stale { age },
                _ => match &criteria.branches {
                    Some(heads) if !heads.has(&l.environment) => Reason::BranchGone {
                        source: heads.source.clone(),
                    },
                    _ => return None,
                },
            };
            let pick = match spared(l) {
                Some(why) => Pick::Spare(why),
                None => Pick::Prune(reason),
            };
            Some((l, pick))
        })
        .collect()
}

/// Why a selected environment is still never touched.
fn spared(listed: &Listed) -> Option<String> {
    if listed.termination_protection {
        return Some("termination protection".into());
    }
    if listed.status.ends_with("_IN_PROGRESS") {
        return Some(format!("{} (an operation is running)", listed.status));
    }
    None
}

/// "3d 4h", "5m", "12s": an age as a person reads it.
pub fn short(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const HOUR: Duration = Duration::from_secs(3600);

    fn listed(environment: &str, hours_ago: u64, ttl_hours: Option<u64>) -> Listed {
        let now = UNIX_EPOCH + HOUR * 1000;
        Listed {
            environment: environment.into(),
            stack_name: format!("app-{environment}"),
            stack_id: format!("arn:aws:cloudformation:us-east-1:1:stack/app-{environment}/1"),
            region: "us-east-1".into(),
            status: "UPDATE_COMPLETE".into(),
            pipeline: None,
            revision: None,
            last_deploy: now - HOUR * hours_ago as u32,
            ttl: ttl_hours.map(|h| HOUR * h as u32),
            termination_protection: false,
        }
    }

    fn criteria(older_than_hours: Option<u32>, matching: Option<&str>) -> Criteria {
        Criteria {
            older_than: older_than_hours.map(|h| HOUR * h),
            matching: matching.map(wildmatch::WildMatch::new),
            branches: None,
            now: UNIX_EPOCH + HOUR * 1000,
        }
    }

    fn heads(branches: &[&str]) -> Heads {
        let lines: String = branches
            .iter()
            .map(|b| format!("0123abcd\trefs/heads/{b}\n"))
            .collect();
        Heads::parse("git@example.com:web.git", &lines).unwrap()
    }

    fn names(picked: &[(&Listed, Pick)]) -> Vec<String> {
        picked.iter().map(|(l, _)| l.environment.clone()).collect()
    }

    #[test]
    fn stale_or_expired_environments_are_picked_fresh_ones_are_not() {
        let all = [
            listed("old", 200, None),
            listed("new", 2, None),
            listed("short-lived", 5, Some(4)),
            listed("long-lived", 5, Some(24)),
        ];
        let picked = select(&all, &criteria(Some(168), None));
        assert_eq!(names(&picked), ["old", "short-lived"]);
        assert_eq!(picked[0].1, Pick::Prune(Reason::Stale { age: HOUR * 200 }));
        assert!(matches!(picked[1].1, Pick::Prune(Reason::Expired { .. })));
        assert_eq!(
            picked[1].1,
            Pick::Prune(Reason::Expired {
                age: HOUR * 5,
                ttl: HOUR * 4
            })
        );
        // With no age limit, only the expired go.
        assert_eq!(names(&select(&all, &criteria(None, None))), ["short-lived"]);
    }

    #[test]
    fn match_narrows_and_protected_or_busy_are_spared() {
        let mut protected = listed("feature-2", 300, None);
        protected.termination_protection = true;
        let mut busy = listed("feature-3", 300, None);
        busy.status = "UPDATE_IN_PROGRESS".into();
        let all = [
            listed("feature-1", 300, None),
            listed("main", 300, None),
            protected,
            busy,
        ];
        let picked = select(&all, &criteria(Some(1), Some("feature-*")));
        assert_eq!(names(&picked), ["feature-1", "feature-2", "feature-3"]);
        assert!(matches!(picked[0].1, Pick::Prune(_)));
        assert_eq!(picked[1].1, Pick::Spare("termination protection".into()));
        assert!(matches!(&picked[2].1, Pick::Spare(why) if why.contains("UPDATE_IN_PROGRESS")));
    }

    #[test]
    fn environments_of_deleted_branches_are_picked_compared_as_stack_safe_names() {
        let mut protected = listed("feature-3", 1, None);
        protected.termination_protection = true;
        let all = [
            listed("main", 1, None),
            listed("feature-jira-12", 1, None),
            listed("feature-2", 1, None),
            protected,
            listed("old", 300, None),
        ];
        let mut by_branch = criteria(None, None);
        by_branch.branches = Some(heads(&["main", "feature/JIRA-12", "old"]));
        let picked = select(&all, &by_branch);
        assert_eq!(names(&picked), ["feature-2", "feature-3"]);
        let gone = Reason::BranchGone {
            source: "git@example.com:web.git".into(),
        };
        assert_eq!(picked[0].1, Pick::Prune(gone.clone()));
        assert_eq!(picked[1].1, Pick::Spare("termination protection".into()));
        assert_eq!(
            gone.to_string(),
            "no branch of git@example.com:web.git has this name (branches compared as \
             stack-safe names)"
        );
        // Age still counts alongside, and --match narrows both.
        by_branch.older_than = Some(HOUR * 168);
        assert_eq!(
            names(&select(&all, &by_branch)),
            ["feature-2", "feature-3", "old"]
        );
        by_branch.matching = Some(wildmatch::WildMatch::new("feature-*"));
        assert_eq!(names(&select(&all, &by_branch)), ["feature-2", "feature-3"]);
    }

    #[test]
    fn ages_read_shortly() {
        assert_eq!(short(Duration::from_secs(42)), "42s");
        assert_eq!(short(Duration::from_secs(300)), "5m");
        assert_eq!(short(HOUR * 5 + Duration::from_secs(60)), "5h 1m");
        assert_eq!(short(HOUR * 77), "3d 5h");
    }
}
