//! The deploy input's `canary` (pure): which `AWS::Lambda::Alias` of the
//! template shifts its traffic, in which steps, baking how long, watching
//! which alarms. Checked with the rest of the input (`TaskInput::parse`),
//! every problem at once, before anything changes.

use crate::base::spelling::closest;
use crate::base::text::json_kind;
use crate::targets::limits::MAX_TOTAL_BAKE_SECONDS;
use crate::targets::names::alarm_names;
use serde_json::{Map, Value};

/// The keys `canary` takes; any other is refused (a misspelt `alarm`
/// would bake while watching nothing).
pub const CANARY_KEYS: &[&str] = &["alias", "steps", "bakeMinutes", "alarms"];

/// At most this many steps before all the traffic: each is a stack
/// update and a bake, and ten already shift in 10% slices.
pub const MAX_STEPS: usize = 10;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Canary {
    /// The logical id of the template's `AWS::Lambda::Alias`.
    pub alias: String,
    /// The share of the traffic the new version takes at each step, in
    /// percent, rising, each below 100 (after the last step, all of it).
    pub steps: Vec<f64>,
    /// How long each step bakes; fractions allowed.
    pub bake_minutes: f64,
    /// CloudWatch alarms by name, in the stack's account and region.
    pub alarms: Vec<String>,
}

impl Canary {
    pub fn bake_seconds(&self) -> f64 {
        self.bake_minutes * 60.0
    }
}

/// The input's `canary`, or every problem with it; None without one.
pub fn parse(deploy: &Value) -> Result<Option<Canary>, Vec<String>> {
    let Some(value) = deploy.get("canary") else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let Some(object) = value.as_object() else {
        return Err(vec![format!(
            "canary must be an object like {{\"alias\": \"LiveAlias\", \"steps\": [10, 50], \
             \"bakeMinutes\": 5, \"alarms\": [\"api-errors\"]}}; it is {}",
            json_kind(value)
        )]);
    };
    for key in object.keys().filter(|k| !CANARY_KEYS.contains(&k.as_str())) {
        let hint = closest(key, CANARY_KEYS)
            .map(|k| format!(" (did you mean '{k}'?)"))
            .unwrap_or_default();
        problems.push(format!(
            "canary has an unknown key '{key}'{hint}: canary takes {}",
            CANARY_KEYS.join(", ")
        ));
    }
    let alias = alias(object, &mut problems);
    let steps = steps(object, &mut problems);
    let bake_minutes = bake_minutes(object, steps.len(), &mut problems);
    let alarms = alarm_names("canary.alarms", object.get("alarms"), "", &mut problems);
    if deploy.get("approval").is_some() {
        problems.push(
            "canary and approval cannot be given together yet: an approval decides on the \
             change set of the whole template, and a canary applies it in steps; remove one"
                .into(),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(Canary {
        alias,
        steps,
        bake_minutes,
        alarms,
    }))
}

fn alias(object: &Map<String, Value>, problems: &mut Vec<String>) -> String {
    match object.get("alias") {
        Some(Value::String(id)) if logical_id_problem(id).is_none() => id.clone(),
        Some(Value::String(id)) => {
            problems.push(format!(
                "canary.alias '{id}' is no logical id: {}",
                logical_id_problem(id).unwrap_or_default()
            ));
            String::new()
        }
        Some(other) => {
            problems.push(format!(
                "canary.alias must be the logical id of the template's AWS::Lambda::Alias (a \
                 string); it is {}",
                json_kind(other)
            ));
            String::new()
        }
        None => {
            problems.push(
                "canary has no alias: name the template's AWS::Lambda::Alias by its logical id, \
                 e.g. \"alias\": \"LiveAlias\""
                    .into(),
            );
            String::new()
        }
    }
}

/// A logical id is alphanumeric (A-Za-z0-9), at most 255 characters
/// (CloudFormation user guide, "Resources" section: "The logical ID must be
/// alphanumeric (A-Za-z0-9) and unique within the template").
fn logical_id_problem(id: &str) -> Option<String> {
    if id.is_empty() || id.len() > 255 {
        return Some(format!("it is {} characters long; 1 to 255", id.len()));
    }
    (!id.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| "a logical id has only letters and digits (A-Za-z0-9)".to_string())
}

fn steps(object: &Map<String, Value>, problems: &mut Vec<String>) -> Vec<f64> {
    let shape = "a list of rising percentages of the traffic, each above 0 and below 100, \
                 e.g. [10, 50]";
    let Some(value) = object.get("steps") else {
        problems.push(format!("canary has no steps: give {shape}"));
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        problems.push(format!(
            "canary.steps must be {shape}; it is {}",
            json_kind(value)
        ));
        return Vec::new();
    };
    if list.is_empty() || list.len() > MAX_STEPS {
        problems.push(format!(
            "canary.steps has {} steps; give 1 to {MAX_STEPS}: {shape}",
            list.len()
        ));
    }
    let mut steps = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_f64() {
            Some(p) if p > 0.0 && p < 100.0 => {
                if steps.last().is_some_and(|last| p <= *last) {
                    problems.push(format!(
                        "canary.steps[{i}] is {p}, not more than the step before: steps rise"
                    ));
                }
                steps.push(p);
            }
            _ => problems.push(format!(
                "canary.steps[{i}] is {item}; each step is a percentage above 0 and below 100 \
                 (after the last step the new version takes all of the traffic)"
            )),
        }
    }
    steps
}

fn bake_minutes(object: &Map<String, Value>, steps: usize, problems: &mut Vec<String>) -> f64 {
    let most = f64::from(MAX_TOTAL_BAKE_SECONDS) / 60.0;
    let range = format!(
        "minutes above 0 (fractions allowed); all steps' bakes together at most {most} minutes, \
         half of the deploy execution's 24 h (its TimeoutSeconds), as a rollout's bakes"
    );
    let Some(value) = object.get("bakeMinutes") else {
        problems.push(format!(
            "canary has no bakeMinutes: say how long each step bakes, {range}"
        ));
        return 0.0;
    };
    match value.as_f64() {
        Some(m) if m > 0.0 && m * steps.max(1) as f64 <= most => m,
        Some(m) if m > 0.0 => {
            problems.push(format!(
                "canary.bakeMinutes {m} for each of {steps} steps makes {} minutes of baking; \
                 {range}",
                m * steps as f64
            ));
            m
        }
        _ => {
            problems.push(format!("canary.bakeMinutes is {value}; it must be {range}"));
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sound_canary_is_read() {
        let canary = parse(&json!({"canary": {"alias": "LiveAlias", "steps": [10, 50],
                                              "bakeMinutes": 0.1, "alarms": ["api-errors"]}}))
        .unwrap()
        .unwrap();
        assert_eq!(canary.alias, "LiveAlias");
        assert_eq!(canary.steps, [10.0, 50.0]);
        assert!((canary.bake_seconds() - 6.0).abs() < 1e-9);
        assert_eq!(canary.alarms, ["api-errors"]);
        assert_eq!(parse(&json!({"stackName": "s"})), Ok(None));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let problems = parse(&json!({"approval": {}, "canary": {"alias": "Live-Alias",
            "steps": [50, 10, 100], "bakeMinutes": 0, "alarms": ["", 3], "alarm": ["x"]}}))
        .unwrap_err();
        let all = problems.join("\n");
        for expected in [
            "unknown key 'alarm' (did you mean 'alarms'?)",
            "canary.alias 'Live-Alias' is no logical id",
            "canary.steps[1] is 10, not more than the step before",
            "canary.steps[2] is 100",
            "canary.bakeMinutes is 0",
            "canary.alarms[0] cannot be an alarm name",
            "canary.alarms[1] must be an alarm name",
            "canary and approval cannot be given together",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
        assert_eq!(problems.len(), 8, "{all}");
    }

    #[test]
    fn missing_keys_and_too_long_a_bake_are_refused() {
        let problems = parse(&json!({"canary": {}})).unwrap_err().join("\n");
        for expected in ["no alias", "no steps", "no bakeMinutes"] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        let long = parse(&json!({"canary": {"alias": "A", "steps": [10, 50], "bakeMinutes": 400}}))
            .unwrap_err()
            .join("\n");
        assert!(long.contains("makes 800 minutes of baking"), "{long}");
        let shape = parse(&json!({"canary": "A"})).unwrap_err().join("\n");
        assert!(shape.contains("canary must be an object"), "{shape}");
    }
}
