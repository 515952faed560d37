//! `bake.rollback` (pure): the bake's alarms become CloudFormation's own
//! rollback triggers on each target's stack operation, and the bake
//! becomes that operation's monitoring period.
//!
//! CloudFormation user guide, "Roll back your CloudFormation stack on alarm
//! breach with rollback triggers": CloudFormation watches the triggers
//! during a create or update and for `MonitoringTimeInMinutes` (0 to 180)
//! after every resource is deployed, and rolls the whole operation back if
//! one goes to ALARM. The stack operation is not over until the monitoring
//! period is, so the target's WaitForStack waits it out: the wave bakes
//! inside its own stack operations, in parallel, and a fired alarm rolls
//! the targets in its account and region back there and then. After the
//! wave, the Bake state reads the alarms once more (`rollout::finish_wave`
//! gives it no time to wait) and stops the rollout if one fired too late
//! for CloudFormation, saying the wave stayed deployed.
//!
//! The triggers are the alarms the bake watches in the target's own account
//! and region, by ARN (DescribeAlarms finds them, `tasks/rollback.rs`): a
//! trigger that does not exist fails the whole operation (API reference,
//! RollbackTrigger), and a stack takes at most [`MAX_ROLLBACK_TRIGGERS`].

use super::spec::Bake;
use serde::{Deserialize, Serialize};

/// The key cpsf sets in a target's deploy input (`rollout::plan`).
pub const ROLLBACK_KEY: &str = "rollbackTriggers";
/// RollbackConfiguration's `RollbackTriggers` takes at most 5 (API
/// reference, RollbackConfiguration).
pub const MAX_ROLLBACK_TRIGGERS: usize = 5;
/// RollbackConfiguration's `MonitoringTimeInMinutes`: 0 to 180.
pub const MAX_MONITORING_MINUTES: u32 = 180;

/// What one target's stack operation watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackTriggers {
    #[serde(default)]
    pub alarms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_prefix: Option<String>,
    /// The bake, rounded up to whole minutes; 0 in the last wave, which no
    /// bake follows (the triggers still watch the operation itself).
    pub monitoring_minutes: u32,
}

/// The triggers of a target in wave `wave` (from 0) of `waves`, or None
/// when the bake does not roll back.
pub fn for_wave(bake: &Bake, wave: usize, waves: usize) -> Option<RollbackTriggers> {
    if !bake.rollback {
        return None;
    }
    let last = wave + 1 >= waves;
    Some(RollbackTriggers {
        alarms: bake.alarms.clone(),
        alarm_prefix: bake.alarm_prefix.clone(),
        monitoring_minutes: if last {
            0
        } else {
            bake.seconds.div_ceil(60).min(MAX_MONITORING_MINUTES)
        },
    })
}

/// One alarm DescribeAlarms found where the target is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAlarm {
    pub name: String,
    pub arn: String,
    pub composite: bool,
}

/// The alarms that become `target`'s rollback triggers at `place`, or why
/// none can: every alarm named must be there (a trigger that does not
/// exist fails the operation), the prefix must match one, and there may be
/// at most [`MAX_ROLLBACK_TRIGGERS`].
pub fn choose<'a>(
    triggers: &RollbackTriggers,
    found: &'a [FoundAlarm],
    target: &str,
    place: &str,
) -> Result<Vec<&'a FoundAlarm>, String> {
    let watched = |name: &str| {
        triggers.alarms.iter().any(|a| a == name)
            || triggers
                .alarm_prefix
                .as_deref()
                .is_some_and(|p| name.starts_with(p))
    };
    let mut chosen: Vec<&FoundAlarm> = found.iter().filter(|a| watched(&a.name)).collect();
    chosen.sort_by(|a, b| a.arn.cmp(&b.arn));
    chosen.dedup_by(|a, b| a.arn == b.arn);
    let lead = format!(
        "target '{target}': bake.rollback makes the bake's alarms its stack's rollback triggers, but"
    );
    let missing: Vec<&str> = triggers
        .alarms
        .iter()
        .filter(|name| !chosen.iter().any(|a| a.name == **name))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{lead} {} not in {place} (a rollback trigger that does not exist fails the stack \
             operation): create {} there, or remove bake.rollback",
            quoted(&missing),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    if let Some(prefix) = &triggers.alarm_prefix
        && !chosen.iter().any(|a| a.name.starts_with(prefix.as_str()))
    {
        return Err(format!(
            "{lead} no alarm in {place} starts with '{prefix}': create one there, or remove \
             bake.rollback"
        ));
    }
    if chosen.len() > MAX_ROLLBACK_TRIGGERS {
        let names: Vec<&str> = chosen.iter().map(|a| a.name.as_str()).collect();
        return Err(format!(
            "{lead} the bake watches {} alarms in {place} ({}) and CloudFormation takes at most \
             {MAX_ROLLBACK_TRIGGERS} rollback triggers on a stack: watch at most \
             {MAX_ROLLBACK_TRIGGERS}, or one composite alarm over them",
            chosen.len(),
            quoted(&names)
        ));
    }
    Ok(chosen)
}

fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bake(seconds: u32, rollback: bool) -> Bake {
        Bake {
            seconds,
            alarms: vec!["app-errors".into()],
            alarm_prefix: Some("app-".into()),
            rollback,
        }
    }

    #[test]
    fn the_bake_is_the_monitoring_period_of_every_wave_but_the_last() {
        assert_eq!(for_wave(&bake(300, false), 0, 3), None);
        let first = for_wave(&bake(301, true), 0, 3).unwrap();
        assert_eq!(first.monitoring_minutes, 6, "rounded up");
        assert_eq!(first.alarms, vec!["app-errors".to_string()]);
        assert_eq!(first.alarm_prefix.as_deref(), Some("app-"));
        assert_eq!(
            for_wave(&bake(301, true), 2, 3).unwrap().monitoring_minutes,
            0
        );
        assert_eq!(
            for_wave(&bake(20_000, true), 0, 3)
                .unwrap()
                .monitoring_minutes,
            MAX_MONITORING_MINUTES
        );
    }

    fn alarm(name: &str) -> FoundAlarm {
        FoundAlarm {
            name: name.into(),
            arn: format!("arn:aws:cloudwatch:us-east-1:111111111111:alarm:{name}"),
            composite: false,
        }
    }

    fn triggers(alarms: &[&str], prefix: Option<&str>) -> RollbackTriggers {
        RollbackTriggers {
            alarms: alarms.iter().map(|a| a.to_string()).collect(),
            alarm_prefix: prefix.map(str::to_string),
            monitoring_minutes: 5,
        }
    }

    #[test]
    fn the_watched_alarms_at_the_targets_place_become_its_triggers() {
        let found = [alarm("app-errors"), alarm("app-latency"), alarm("other")];
        let chosen = choose(
            &triggers(&["app-errors"], Some("app-")),
            &found,
            "prod",
            "us-east-1",
        )
        .unwrap();
        let names: Vec<&str> = chosen.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            ["app-errors", "app-latency"],
            "each once, not 'other'"
        );
    }

    #[test]
    fn a_missing_alarm_or_more_than_five_is_refused_naming_them() {
        let found = [alarm("app-errors")];
        let missing = choose(
            &triggers(&["app-errors", "app-5xx"], None),
            &found,
            "prod",
            "eu-west-1",
        )
        .unwrap_err();
        assert!(missing.contains("target 'prod'"), "{missing}");
        assert!(missing.contains("'app-5xx' not in eu-west-1"), "{missing}");
        let unmatched =
            choose(&triggers(&[], Some("db-")), &found, "prod", "eu-west-1").unwrap_err();
        assert!(
            unmatched.contains("no alarm in eu-west-1 starts with 'db-'"),
            "{unmatched}"
        );
        let many: Vec<FoundAlarm> = (0..6).map(|i| alarm(&format!("app-{i}"))).collect();
        let too_many =
            choose(&triggers(&[], Some("app-")), &many, "prod", "eu-west-1").unwrap_err();
        assert!(too_many.contains("watches 6 alarms"), "{too_many}");
        assert!(
            too_many.contains("at most 5 rollback triggers"),
            "{too_many}"
        );
    }
}
