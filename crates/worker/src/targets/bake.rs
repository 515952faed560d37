//! The deploy input's `bake` (pure): how long to wait after each wave but
//! the last, and which CloudWatch alarms stop the rollout meanwhile.

use super::limits::MAX_TOTAL_BAKE_SECONDS;
use super::names::{alarm_name_problem, alarm_names};
use super::rollback::MAX_MONITORING_MINUTES;
use crate::base::spelling::closest;
use crate::base::text::json_kind;
use serde_json::{Map, Value};

/// The keys `bake` takes; any other is refused (a misspelt `alarm` would
/// otherwise bake while watching nothing).
pub const BAKE_KEYS: &[&str] = &["seconds", "alarms", "alarmPrefix", "rollback"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bake {
    /// How long to wait after each wave but the last; 0 checks the alarms
    /// once, without waiting.
    pub seconds: u32,
    /// Alarms watched by exact name (DescribeAlarms `AlarmNames`).
    pub alarms: Vec<String>,
    /// Alarms watched by name prefix (DescribeAlarms `AlarmNamePrefix`).
    pub alarm_prefix: Option<String>,
    /// Roll the wave just deployed back when an alarm fires.
    pub rollback: bool,
}

impl Bake {
    /// Whether the bake watches the alarm called `name`.
    pub fn watches(&self, name: &str) -> bool {
        self.alarms.iter().any(|a| a == name)
            || self
                .alarm_prefix
                .as_deref()
                .is_some_and(|p| name.starts_with(p))
    }
}

/// Parses `bake`, adding every problem to `problems`. `waves` is the
/// rollout's number of waves when the waves are sound.
pub(super) fn parse(
    value: &Value,
    waves: Option<usize>,
    problems: &mut Vec<String>,
) -> Option<Bake> {
    let Some(object) = value.as_object() else {
        problems.push(format!(
            "bake must be an object like {{\"seconds\": 300, \"alarms\": [\"app-errors\"]}}; it is {}",
            json_kind(value)
        ));
        return None;
    };
    let before = problems.len();
    for key in object.keys().filter(|k| !BAKE_KEYS.contains(&k.as_str())) {
        let hint = closest(key, BAKE_KEYS)
            .map(|k| format!(" (did you mean '{k}'?)"))
            .unwrap_or_default();
        problems.push(format!(
            "bake has an unknown key '{key}'{hint}: bake takes {}",
            BAKE_KEYS.join(", ")
        ));
    }
    let seconds = seconds(object, waves, problems);
    let alarms = alarms(object, problems);
    let alarm_prefix = match object.get("alarmPrefix") {
        None => None,
        Some(Value::String(prefix)) => {
            if let Some(why) = alarm_name_problem(prefix) {
                problems.push(format!("bake.alarmPrefix cannot start alarm names: {why}"));
            }
            Some(prefix.clone())
        }
        Some(other) => {
            problems.push(format!(
                "bake.alarmPrefix must be a string, the start of the alarms' names; it is {}",
                json_kind(other)
            ));
            None
        }
    };
    let rollback = match object.get("rollback") {
        None => false,
        Some(Value::Bool(rollback)) => *rollback,
        Some(other) => {
            problems.push(format!(
                "bake.rollback must be true or false; it is {}",
                json_kind(other)
            ));
            false
        }
    };
    let monitoring = u64::from(MAX_MONITORING_MINUTES) * 60;
    if rollback && seconds.is_some_and(|s| u64::from(s) > monitoring) {
        problems.push(format!(
            "bake.rollback makes the bake CloudFormation's monitoring period, which is at most \
             {MAX_MONITORING_MINUTES} minutes (RollbackConfiguration MonitoringTimeInMinutes): \
             bake for at most {monitoring} s, or remove rollback"
        ));
    }
    if rollback && alarms.is_empty() && alarm_prefix.is_none() {
        problems.push(
            "bake.rollback is true but the bake watches no alarm, and only an alarm triggers a \
             rollback: add alarms or alarmPrefix, or remove rollback"
                .into(),
        );
    }
    if waves == Some(1) {
        problems.push(
            "bake is given but the rollout has one wave: a bake runs between waves, after each \
             wave but the last; split the targets into waves, or remove bake"
                .into(),
        );
    }
    (problems.len() == before).then(|| Bake {
        seconds: seconds.unwrap_or_default(),
        alarms,
        alarm_prefix,
        rollback,
    })
}

fn seconds(
    object: &Map<String, Value>,
    waves: Option<usize>,
    problems: &mut Vec<String>,
) -> Option<u32> {
    let range = format!(
        "a whole number of seconds from 0 to {MAX_TOTAL_BAKE_SECONDS}: all bakes together may take \
         at most {MAX_TOTAL_BAKE_SECONDS} s, half of the deploy execution's 24 h (its \
         TimeoutSeconds, bootstrap's DeployTimeoutSeconds), so that the waves' deploys keep the \
         other half"
    );
    let Some(value) = object.get("seconds") else {
        problems.push(format!(
            "bake has no seconds: say how long to wait after each wave but the last, e.g. \
             \"seconds\": 300 ({range})"
        ));
        return None;
    };
    let seconds = value
        .as_u64()
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s <= MAX_TOTAL_BAKE_SECONDS);
    let Some(seconds) = seconds else {
        problems.push(format!("bake.seconds is {value}; it must be {range}"));
        return None;
    };
    let bakes = waves.unwrap_or(1).saturating_sub(1) as u64;
    let total = bakes * u64::from(seconds);
    if total > u64::from(MAX_TOTAL_BAKE_SECONDS) {
        problems.push(format!(
            "bake.seconds {seconds} after each of {bakes} waves makes {total} s of baking; all \
             bakes together may take at most {MAX_TOTAL_BAKE_SECONDS} s, half of the deploy \
             execution's 24 h, so that the waves' deploys keep the other half: bake for at most \
             {} s, or split the rollout over several pipeline stages",
            u64::from(MAX_TOTAL_BAKE_SECONDS) / bakes
        ));
    }
    Some(seconds)
}

fn alarms(object: &Map<String, Value>, problems: &mut Vec<String>) -> Vec<String> {
    alarm_names(
        "bake.alarms",
        object.get("alarms"),
        ": watch the others through alarmPrefix",
        problems,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(bake: Value, waves: usize) -> Vec<String> {
        let mut problems = Vec::new();
        parse(&bake, Some(waves), &mut problems);
        problems
    }

    #[test]
    fn a_bake_is_read_with_its_defaults() {
        let mut problems = Vec::new();
        let bake = parse(
            &json!({"seconds": 300, "alarmPrefix": "app-"}),
            Some(3),
            &mut problems,
        );
        assert_eq!(problems, Vec::<String>::new());
        let bake = bake.unwrap();
        assert_eq!(
            (bake.seconds, bake.rollback, bake.alarms.len()),
            (300, false, 0)
        );
        assert!(bake.watches("app-errors") && !bake.watches("other"));
    }

    #[test]
    fn seconds_are_bounded_by_half_the_executions_timeout() {
        assert_eq!(
            problems(json!({"seconds": 43_200}), 2),
            Vec::<String>::new()
        );
        assert_eq!(problems(json!({"seconds": 0}), 2), Vec::<String>::new());
        let over = problems(json!({"seconds": 43_201}), 2);
        assert_eq!(over.len(), 1);
        assert!(
            over[0].starts_with("bake.seconds is 43201; it must be a whole number of seconds from 0 to 43200: all bakes together may take at most 43200 s, half of the deploy execution's 24 h"),
            "{}",
            over[0]
        );
        for bad in [json!(-1), json!(1.5), json!("300")] {
            assert_eq!(problems(json!({"seconds": bad}), 2).len(), 1, "{bad}");
        }
        assert!(problems(json!({}), 2)[0].starts_with("bake has no seconds: say how long to wait"));
    }

    #[test]
    fn all_bakes_together_stay_within_the_budget() {
        assert_eq!(
            problems(json!({"seconds": 3600}), 14),
            vec![
                "bake.seconds 3600 after each of 13 waves makes 46800 s of baking; all bakes \
                  together may take at most 43200 s, half of the deploy execution's 24 h, so that \
                  the waves' deploys keep the other half: bake for at most 3323 s, or split the \
                  rollout over several pipeline stages"
                    .to_string()
            ]
        );
    }

    #[test]
    fn alarm_names_fit_describe_alarms() {
        let many: Vec<String> = (0..101).map(|i| format!("a{i}")).collect();
        assert_eq!(
            problems(json!({"seconds": 1, "alarms": many}), 2),
            vec![
                "bake.alarms names 101 alarms; DescribeAlarms takes at most 100 names (CloudWatch \
                  API reference): watch the others through alarmPrefix"
                    .to_string()
            ]
        );
        assert_eq!(
            problems(json!({"seconds": 1, "alarms": ["ok", "x".repeat(256), 3]}), 2),
            vec![
                "bake.alarms[1] cannot be an alarm name: it is 256 characters long; CloudWatch alarm names are 1 to 255".to_string(),
                "bake.alarms[2] must be an alarm name (a string); it is a number".to_string(),
            ]
        );
        assert_eq!(
            problems(json!({"seconds": 1, "alarmPrefix": ""}), 2),
            vec!["bake.alarmPrefix cannot start alarm names: it is 0 characters long; CloudWatch alarm names are 1 to 255".to_string()]
        );
    }

    #[test]
    fn unknown_keys_name_the_likely_one() {
        assert_eq!(
            problems(json!({"seconds": 1, "alarm": ["x"]}), 2),
            vec!["bake has an unknown key 'alarm' (did you mean 'alarms'?): bake takes seconds, alarms, alarmPrefix, rollback".to_string()]
        );
    }

    #[test]
    fn with_rollback_the_bake_fits_cloudformations_monitoring_period() {
        assert_eq!(
            problems(
                json!({"seconds": 10_800, "alarms": ["a"], "rollback": true}),
                2
            ),
            Vec::<String>::new()
        );
        let refused = problems(
            json!({"seconds": 10_801, "alarms": ["a"], "rollback": true}),
            2,
        );
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].contains("at most 180 minutes"), "{refused:?}");
        assert!(refused[0].contains("at most 10800 s"), "{refused:?}");
    }

    #[test]
    fn rollback_needs_an_alarm_and_a_bake_needs_two_waves() {
        assert_eq!(
            problems(json!({"seconds": 1, "rollback": true}), 2),
            vec!["bake.rollback is true but the bake watches no alarm, and only an alarm triggers a rollback: add alarms or alarmPrefix, or remove rollback".to_string()]
        );
        assert_eq!(
            problems(json!({"seconds": 1}), 1),
            vec!["bake is given but the rollout has one wave: a bake runs between waves, after each wave but the last; split the targets into waves, or remove bake".to_string()]
        );
        assert_eq!(
            problems(json!({"seconds": 1, "rollback": "yes"}), 2),
            vec!["bake.rollback must be true or false; it is a string".to_string()]
        );
        assert_eq!(
            problems(json!(300), 2),
            vec!["bake must be an object like {\"seconds\": 300, \"alarms\": [\"app-errors\"]}; it is a number".to_string()]
        );
    }
}
