//! Where a canary is and what comes next (pure). The progress lives in
//! the execution's state (`$.canaryState`, CanaryStep's result) and each
//! bake's in `$.canaryBake`, never in a worker's memory: a worker killed
//! mid-bake leaves both where they were, the task is handed out again,
//! and the same input gives the same decision, whose change set (named
//! per step from the execution) is found, not made twice.

use crate::base::limits::MAX_FAILURE_MESSAGE;
use crate::base::text::cut;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Step `step` routes its share to the new version (0: none yet).
    Shift,
    /// The template as given: all the traffic on the new version.
    Final,
    /// The alias back on the old version, no routing.
    Rollback,
}

/// The canary's progress, as CanaryStep hands it on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The alias's logical id, and its ARN (for reading it).
    pub alias: String,
    pub alias_arn: String,
    /// The version the alias served before the deploy.
    pub old_version: String,
    pub steps: Vec<f64>,
    pub bake_seconds: f64,
    /// The step applied last, from 1; 0 before the first.
    pub step: usize,
    pub phase: Phase,
    /// Why the canary rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// A bake's result (`$.canaryBake`): the Pass state before it sets
/// `since` (`$$.State.EnteredTime`) and `step`; CanaryBake adds `done`
/// and, when an alarm stops the canary, `alarm`; its Catch adds `failed`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baked {
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub alarm: Option<String>,
    #[serde(default)]
    pub failed: Option<Value>,
}

/// What CanaryStep does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Apply step `step` (from 1): `weight` of the traffic (0 to 1) on the
    /// new version.
    Shift { step: usize, weight: f64 },
    /// Apply the template as given.
    Final,
    /// Put the alias back on the old version.
    Rollback { why: String },
    /// The roll-back is in place: fail the deploy saying why.
    Fail { message: String },
}

impl Progress {
    /// "step 1/2 (10%)"
    pub fn step_label(&self, step: usize) -> String {
        let share = self.steps.get(step.max(1) - 1).copied().unwrap_or(100.0);
        format!("step {step}/{} ({}%)", self.steps.len(), share)
    }

    /// The progress once `next` is applied.
    pub fn after(&self, next: &Next) -> Progress {
        let mut progress = self.clone();
        match next {
            Next::Shift { step, .. } => {
                progress.step = *step;
                progress.phase = Phase::Shift;
            }
            Next::Final => progress.phase = Phase::Final,
            Next::Rollback { why } => {
                progress.phase = Phase::Rollback;
                progress.stopped = Some(why.clone());
            }
            Next::Fail { .. } => {}
        }
        progress
    }
}

/// What follows `progress`, given the bake that ran after its step and
/// the error WaitForStack caught (`$.error`), if a step's stack update
/// failed: CloudFormation then put the stack back on the step before,
/// alias still split, so the canary rolls back.
pub fn next(progress: &Progress, baked: Option<&Baked>, failed_update: Option<&Value>) -> Next {
    let weight = |step: usize| progress.steps[step - 1] / 100.0;
    if let Some(error) = failed_update.filter(|_| progress.phase != Phase::Rollback) {
        let what = match progress.phase {
            Phase::Final => "the update to all of the traffic".to_string(),
            _ => format!("the update of {}", progress.step_label(progress.step)),
        };
        let why = format!(
            "{what} failed ({}: {})",
            error["Error"].as_str().unwrap_or_default(),
            error["Cause"].as_str().unwrap_or_default()
        );
        // The first step's update rolled back is the stack as it was
        // before the deploy, alias and all: nothing to roll back.
        if progress.phase == Phase::Shift && progress.step <= 1 {
            return Next::Fail {
                message: cut(
                    &format!(
                        "canary stopped: {why}; CloudFormation rolled the stack back to before \
                         the deploy, so alias {} serves version {} with no routing",
                        progress.alias, progress.old_version
                    ),
                    MAX_FAILURE_MESSAGE,
                ),
            };
        }
        return Next::Rollback { why };
    }
    match progress.phase {
        Phase::Rollback => Next::Fail {
            message: rolled_back(progress),
        },
        Phase::Final => Next::Final,
        Phase::Shift if progress.step == 0 => Next::Shift {
            step: 1,
            weight: weight(1),
        },
        Phase::Shift => {
            let label = progress.step_label(progress.step);
            // A bake of another step (none is possible through the state
            // machine): apply this step again, which finds its change set.
            let Some(baked) = baked.filter(|b| b.step == progress.step) else {
                return Next::Shift {
                    step: progress.step,
                    weight: weight(progress.step),
                };
            };
            if let Some(failed) = &baked.failed {
                let said = |key: &str| failed[key].as_str().unwrap_or_default().to_string();
                return Next::Rollback {
                    why: format!(
                        "the bake of {label} failed ({}: {}), so its alarms went unwatched",
                        said("Error"),
                        said("Cause")
                    ),
                };
            }
            if let Some(alarm) = &baked.alarm {
                return Next::Rollback {
                    why: format!("during the bake of {label}, {alarm}"),
                };
            }
            if progress.step < progress.steps.len() {
                Next::Shift {
                    step: progress.step + 1,
                    weight: weight(progress.step + 1),
                }
            } else {
                Next::Final
            }
        }
    }
}

/// The deploy's failure once the alias is back on the old version.
pub fn rolled_back(progress: &Progress) -> String {
    let why = progress.stopped.as_deref().unwrap_or("the canary stopped");
    let tail = format!(
        "; rolled back: alias {} serves version {} again, with no routing; the rest of the \
         template stays as deployed, and the new version takes no traffic",
        progress.alias, progress.old_version
    );
    let room = MAX_FAILURE_MESSAGE.saturating_sub(tail.encode_utf16().count());
    format!("canary stopped {}{tail}", cut(why, room.saturating_sub(20)))
}

/// The watched alarms' verdict: None while none is in ALARM and each is
/// found; else what stops the canary. `found` holds DescribeAlarms'
/// (name, StateValue, StateReason), metric and composite alarms alike.
/// INSUFFICIENT_DATA does not stop it, as it does not stop a rollout's
/// bake (`targets::alarms`).
pub fn alarm_stop(watched: &[String], found: &[(String, String, String)]) -> Option<String> {
    let firing: Vec<String> = found
        .iter()
        .filter(|(name, state, _)| state == "ALARM" && watched.contains(name))
        .map(|(name, _, reason)| format!("alarm '{name}' is in ALARM: {reason}"))
        .collect();
    let missing: Vec<String> = watched
        .iter()
        .filter(|name| !found.iter().any(|(n, _, _)| n == *name))
        .map(|name| format!("alarm '{name}' does not exist (a missing alarm watches nothing)"))
        .collect();
    let said: Vec<String> = firing.into_iter().chain(missing).collect();
    (!said.is_empty()).then(|| cut(&said.join("; "), MAX_FAILURE_MESSAGE / 2))
}

/// The epoch second a bake that began at `since` (an ISO 8601 time, as
/// Step Functions' `$$.State.EnteredTime`) ends.
pub fn bake_until(since: &str, bake_seconds: f64) -> Result<f64, String> {
    let normalised = since.replace("+00:00", "Z");
    let at = humantime::parse_rfc3339_weak(&normalised)
        .map_err(|e| format!("the bake's start '{since}' is no time: {e}"))?;
    let epoch = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    Ok(epoch.as_secs_f64() + bake_seconds)
}

/// What the pipeline shows while a step bakes.
pub fn baking_summary(progress: &Progress, left_seconds: f64) -> String {
    let share = progress
        .steps
        .get(progress.step.max(1) - 1)
        .copied()
        .unwrap_or(0.0);
    let left = if left_seconds >= 90.0 {
        format!("{} min left", (left_seconds / 60.0).round())
    } else {
        format!("{} s left", left_seconds.max(0.0).round())
    };
    format!(
        "canary {share}%: baking, {left} (step {}/{}, alias {})",
        progress.step,
        progress.steps.len(),
        progress.alias
    )
}

/// Where a running canary is, for the pipeline's summary: the newest
/// progress CanaryStep returned, the state the execution is in, and when
/// the newest bake began (its CanaryBakeStart's entry in the history).
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    pub progress: Progress,
    pub state: Option<String>,
    pub baking_since: Option<f64>,
}

// The facts a job decides on compare whole (`execution::ExecutionFacts`
// is Eq); the glance's numbers are finite, checked by `spec.rs` or taken
// from history timestamps, so equality is total.
impl Eq for Glance {}

/// The glance a task's output gives, when it is a canary's progress.
pub fn glance(output: &str, state: Option<&str>, baking_since: Option<f64>) -> Option<Glance> {
    // Asked of every task output of the newest history page: only a
    // progress holds "oldVersion".
    if !output.contains("\"oldVersion\"") {
        return None;
    }
    let progress: Progress = serde_json::from_str(output).ok()?;
    Some(Glance {
        progress,
        state: state.map(str::to_string),
        baking_since,
    })
}

impl Glance {
    /// "canary 10%: baking, 3 min left (step 1/2, alias Live)" at `now`.
    pub fn summary(&self, now: f64) -> String {
        let p = &self.progress;
        let baking = matches!(
            self.state.as_deref(),
            Some("CanaryBakeStart" | "CanaryBake" | "CanaryBaked")
        );
        match (p.phase, self.baking_since) {
            (Phase::Shift, Some(since)) if baking => {
                baking_summary(p, since + p.bake_seconds - now)
            }
            (Phase::Shift, _) => format!(
                "canary {}%: shifting (step {}/{}, alias {})",
                p.steps.get(p.step.max(1) - 1).copied().unwrap_or(0.0),
                p.step,
                p.steps.len(),
                p.alias
            ),
            (Phase::Final, _) => {
                format!("canary: all traffic to the new version (alias {})", p.alias)
            }
            (Phase::Rollback, _) => format!(
                "canary: rolling alias {} back to version {}",
                p.alias, p.old_version
            ),
        }
    }
}

/// One step as `cpsf history` lists it, from the progress CanaryStep
/// returned once it applied the step.
pub fn step_line(progress: &Progress) -> String {
    match progress.phase {
        Phase::Shift => format!(
            "{}: alias {} on version {}, {}% to the new version",
            progress.step_label(progress.step),
            progress.alias,
            progress.old_version,
            progress
                .steps
                .get(progress.step.max(1) - 1)
                .copied()
                .unwrap_or(0.0)
        ),
        Phase::Final => format!("all traffic: alias {} on the new version", progress.alias),
        Phase::Rollback => format!(
            "rolled back: alias {} on version {} again ({})",
            progress.alias,
            progress.old_version,
            progress.stopped.as_deref().unwrap_or("stopped")
        ),
    }
}

/// The canary in the deploy's output: the steps taken, and how it ended.
pub fn output(progress: &Progress) -> Value {
    let mut shares: Vec<Value> = progress.steps.iter().map(|s| json!(s)).collect();
    shares.push(json!(100));
    json!({
        "alias": progress.alias,
        "oldVersion": progress.old_version,
        "steps": shares,
        "outcome": match progress.phase {
            Phase::Final => "all traffic on the new version",
            Phase::Rollback => "rolled back",
            Phase::Shift => "shifting",
        },
    })
}

/// The output's summary line: "canary on alias Live: 10% → 50% → 100%".
pub fn summary(progress: &Progress) -> String {
    let shares: Vec<String> = progress
        .steps
        .iter()
        .map(|s| format!("{s}%"))
        .chain(["100%".to_string()])
        .collect();
    format!(
        "canary on alias {} (from version {}): {}, {} min bake each",
        progress.alias,
        progress.old_version,
        shares.join(" → "),
        progress.bake_seconds / 60.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(step: usize, phase: Phase) -> Progress {
        Progress {
            alias: "Live".into(),
            alias_arn: "arn:aws:lambda:us-east-1:1:function:f:live".into(),
            old_version: "3".into(),
            steps: vec![10.0, 50.0],
            bake_seconds: 300.0,
            step,
            phase,
            stopped: None,
        }
    }

    fn baked(step: usize) -> Baked {
        Baked {
            step,
            done: true,
            ..Baked::default()
        }
    }

    #[test]
    fn the_steps_run_in_order_then_the_template_as_given() {
        let start = progress(0, Phase::Shift);
        let first = next(&start, None, None);
        assert_eq!(
            first,
            Next::Shift {
                step: 1,
                weight: 0.1
            }
        );
        let one = start.after(&first);
        let second = next(&one, Some(&baked(1)), None);
        assert_eq!(
            second,
            Next::Shift {
                step: 2,
                weight: 0.5
            }
        );
        let two = one.after(&second);
        assert_eq!(next(&two, Some(&baked(2)), None), Next::Final);
        assert_eq!(two.after(&Next::Final).phase, Phase::Final);
        // A task handed out again with the same input decides the same.
        assert_eq!(next(&two, Some(&baked(2)), None), Next::Final);
        // A bake result of an earlier step applies this step again.
        assert_eq!(
            next(&two, Some(&baked(1)), None),
            Next::Shift {
                step: 2,
                weight: 0.5
            }
        );
    }

    #[test]
    fn an_alarm_or_a_failed_bake_rolls_back_then_fails_naming_the_alarm_and_step() {
        let one = progress(1, Phase::Shift);
        let alarmed = Baked {
            alarm: Some("alarm 'api-errors' is in ALARM: Threshold Crossed".into()),
            ..baked(1)
        };
        let Next::Rollback { why } = next(&one, Some(&alarmed), None) else {
            panic!("an alarm rolls back");
        };
        assert_eq!(
            why,
            "during the bake of step 1/2 (10%), alarm 'api-errors' is in ALARM: Threshold Crossed"
        );
        let back = one.after(&Next::Rollback { why });
        let Next::Fail { message } = next(&back, None, None) else {
            panic!("after the roll-back, the deploy fails");
        };
        assert!(
            message.starts_with(
                "canary stopped during the bake of step 1/2 (10%), alarm 'api-errors'"
            ),
            "{message}"
        );
        assert!(
            message.contains("alias Live serves version 3 again"),
            "{message}"
        );
        let failed = Baked {
            failed: Some(json!({"Error": "Cpsf.Denied", "Cause": "DescribeAlarms: denied"})),
            ..baked(1)
        };
        let Next::Rollback { why } = next(&one, Some(&failed), None) else {
            panic!("a failed bake rolls back");
        };
        assert!(why.contains("Cpsf.Denied: DescribeAlarms: denied"), "{why}");
        // A step's stack update that failed (CloudFormation rolled it back
        // to the step before): rolled back, the final update's too; a
        // failed roll-back is not rolled back again.
        let error = json!({"Error": "Cpsf.StackFailed", "Cause": "Live: UPDATE_FAILED"});
        let two = progress(2, Phase::Shift);
        let Next::Rollback { why } = next(&two, None, Some(&error)) else {
            panic!("a failed step rolls back");
        };
        assert_eq!(
            why,
            "the update of step 2/2 (50%) failed (Cpsf.StackFailed: Live: UPDATE_FAILED)"
        );
        let Next::Fail { message } = next(&progress(1, Phase::Shift), None, Some(&error)) else {
            panic!("a failed first step is CloudFormation's to roll back");
        };
        assert!(
            message.ends_with("alias Live serves version 3 with no routing"),
            "{message}"
        );
        let last = two.after(&Next::Final);
        assert!(matches!(
            next(&last, None, Some(&error)),
            Next::Rollback { .. }
        ));
        let back = two.after(&Next::Rollback { why });
        assert!(matches!(next(&back, None, Some(&error)), Next::Fail { .. }));
    }

    #[test]
    fn alarms_in_alarm_or_missing_stop_insufficient_data_does_not() {
        let watched = vec!["api-errors".to_string(), "latency".to_string()];
        let row = |n: &str, s: &str, r: &str| (n.to_string(), s.to_string(), r.to_string());
        let quiet = [
            row("api-errors", "OK", ""),
            row("latency", "INSUFFICIENT_DATA", ""),
        ];
        assert_eq!(alarm_stop(&watched, &quiet), None);
        let firing = [
            row("api-errors", "ALARM", "Threshold Crossed"),
            row("other", "ALARM", "x"),
        ];
        assert_eq!(
            alarm_stop(&watched, &firing).unwrap(),
            "alarm 'api-errors' is in ALARM: Threshold Crossed; alarm 'latency' does not exist \
             (a missing alarm watches nothing)"
        );
    }

    #[test]
    fn the_bake_ends_bake_seconds_after_it_began_and_says_what_is_left() {
        let until = bake_until("2026-12-07T07:00:00.500Z", 300.0).unwrap();
        assert_eq!(until, 1_796_626_800.5 + 300.0);
        assert_eq!(
            bake_until("2026-12-07T07:00:00.500+00:00", 0.0).unwrap(),
            1_796_626_800.5
        );
        assert!(bake_until("yesterday", 1.0).is_err());
        let one = progress(1, Phase::Shift);
        assert_eq!(
            baking_summary(&one, 170.0),
            "canary 10%: baking, 3 min left (step 1/2, alias Live)"
        );
        assert_eq!(
            summary(&one),
            "canary on alias Live (from version 3): 10% → 50% → 100%, 5 min bake each"
        );
        let output = serde_json::to_string(&one).unwrap();
        let glanced = glance(&output, Some("CanaryBake"), Some(1000.0)).unwrap();
        assert_eq!(
            glanced.summary(1130.0),
            "canary 10%: baking, 3 min left (step 1/2, alias Live)"
        );
        let applying = glance(&output, Some("WaitForStack"), Some(1000.0)).unwrap();
        assert_eq!(
            applying.summary(0.0),
            "canary 10%: shifting (step 1/2, alias Live)"
        );
        assert_eq!(glance("{\"plan\": 1}", None, None), None);
        assert_eq!(
            step_line(&one),
            "step 1/2 (10%): alias Live on version 3, 10% to the new version"
        );
        assert_eq!(
            step_line(&one.after(&Next::Final)),
            "all traffic: alias Live on the new version"
        );
    }
}
