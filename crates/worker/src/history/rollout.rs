//! A rollout's waves and targets, read from its history (pure): the plan
//! PlanRollout returned and the progress each FinishWave returned
//! (`targets::rollout`), so `cpsf history` shows how far a running or
//! stopped rollout got, target by target, and where each target's own
//! execution is.

use super::event::Event;
use crate::targets::plan::TargetStatus;
use crate::targets::rollout::{Plan, Progress};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    pub waves: Vec<WaveView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveView {
    /// From 1.
    pub number: usize,
    pub targets: Vec<TargetView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetView {
    pub name: String,
    /// `Succeeded` or `Failed` once its wave finished; `deploying` while
    /// its wave runs, `stopped` when the rollout ended in its wave (the
    /// failure names the targets that failed), `not started`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    /// Where a failed target stopped, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The target's own execution (`<target>-<hex>` of the same state
    /// machine), when its wave finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
}

/// The rollout in `events` (oldest first), or None when the execution is
/// not one (no PlanRollout output). `running`: the execution has not ended.
pub fn read(events: &[Event], running: bool) -> Option<RolloutView> {
    let mut state: Option<&str> = None;
    let mut plan: Option<Plan> = None;
    let mut progress = Progress::default();
    for event in events {
        if event.is_state_entered() {
            state = event.state.as_deref();
        }
        let Some(output) = &event.output else {
            continue;
        };
        match state {
            Some("PlanRollout") => plan = serde_json::from_str(output).ok(),
            Some("FinishWave") => {
                progress = serde_json::from_str(output)
                    .ok()
                    .and_then(|o| crate::targets::rollout::progress_in(&o))
                    .unwrap_or(progress)
            }
            _ => {}
        }
    }
    let plan = plan?;
    let all = progress.target_results();
    let results: HashMap<&str, _> = all.iter().map(|r| (r.name.as_str(), r)).collect();
    let waves = plan
        .waves
        .iter()
        .enumerate()
        .map(|(index, wave)| WaveView {
            number: index + 1,
            targets: wave
                .iter()
                .map(|planned| match results.get(planned.name.as_str()) {
                    Some(r) => TargetView {
                        name: r.name.clone(),
                        status: r.status.as_str().to_string(),
                        stack_id: r.stack_id.clone(),
                        detail: (r.status == TargetStatus::Failed).then(|| {
                            let said: Vec<&str> = [&r.state, &r.error, &r.cause]
                                .into_iter()
                                .flatten()
                                .map(String::as_str)
                                .collect();
                            said.join(": ")
                        }),
                        execution_arn: r.execution_arn.clone(),
                    },
                    None => TargetView {
                        name: planned.name.clone(),
                        status: match (index.cmp(&progress.wave), running) {
                            (std::cmp::Ordering::Equal, true) => "deploying",
                            (std::cmp::Ordering::Equal, false) => "stopped",
                            _ => "not started",
                        }
                        .to_string(),
                        stack_id: None,
                        detail: None,
                        execution_arn: None,
                    },
                })
                .collect(),
        })
        .collect();
    Some(RolloutView { waves })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: i64, kind: &str, state: Option<&str>, output: Option<serde_json::Value>) -> Event {
        Event {
            id,
            timestamp: id as f64,
            kind: kind.into(),
            state: state.map(str::to_string),
            error: None,
            cause: None,
            output: output.map(|o| o.to_string()),
        }
    }

    fn planned(name: &str) -> serde_json::Value {
        json!({"name": name, "execution": format!("{name}-00"), "input": {}})
    }

    #[test]
    fn a_stopped_rollout_shows_each_wave_and_how_far_it_got() {
        let plan = json!({
            "rollout": {}, "shared": {},
            "waves": [[planned("a")], [planned("b"), planned("c")], [planned("d")]],
            "progress": {"wave": 0, "done": false, "bake": false, "results": []}
        });
        let after_first = json!({
            "wave": 1, "done": false, "bake": true, "bakeUntil": 10.0,
            "results": [{"name": "a", "status": "Succeeded", "stackId": "arn:s:a",
                         "executionArn": "arn:x:a-00"}]
        });
        let events = vec![
            event(1, "ExecutionStarted", None, None),
            event(2, "TaskStateEntered", Some("PlanRollout"), None),
            event(3, "ActivitySucceeded", None, Some(plan)),
            event(4, "MapStateEntered", Some("DeployWave"), None),
            // A target's own task inside the Map: not the rollout's.
            event(5, "TaskSucceeded", None, Some(json!({"Output": {}}))),
            event(6, "TaskStateEntered", Some("FinishWave"), None),
            event(7, "ActivitySucceeded", None, Some(after_first)),
            event(8, "MapStateEntered", Some("DeployWave"), None),
        ];
        let view = read(&events, false).unwrap();
        let statuses: Vec<Vec<(&str, &str)>> = view
            .waves
            .iter()
            .map(|w| {
                w.targets
                    .iter()
                    .map(|t| (t.name.as_str(), t.status.as_str()))
                    .collect()
            })
            .collect();
        assert_eq!(
            statuses,
            vec![
                vec![("a", "Succeeded")],
                vec![("b", "stopped"), ("c", "stopped")],
                vec![("d", "not started")]
            ]
        );
        assert_eq!(
            view.waves[0].targets[0].stack_id.as_deref(),
            Some("arn:s:a")
        );
        assert_eq!(
            read(&events, true).unwrap().waves[1].targets[0].status,
            "deploying"
        );
    }

    /// FinishWave returns the plan; once done, the results are in the
    /// output's `targets`.
    #[test]
    fn a_finished_rollout_is_read_from_the_plan_finish_wave_returned() {
        let plan = json!({
            "rollout": {}, "shared": {}, "waves": [[planned("a")], [planned("b")]],
            "progress": {"wave": 0, "done": false, "bake": false, "results": []}
        });
        let done = json!({
            "rollout": {}, "shared": {}, "waves": [],
            "progress": {"wave": 2, "done": true, "bake": false, "results": [],
                         "result": {"targets": [
                             {"name": "a", "status": "Succeeded", "stackId": "arn:s:a"},
                             {"name": "b", "status": "Failed", "state": "UpdateStack"}]}}
        });
        let events = vec![
            event(1, "TaskStateEntered", Some("PlanRollout"), None),
            event(2, "ActivitySucceeded", None, Some(plan)),
            event(3, "TaskStateEntered", Some("FinishWave"), None),
            event(4, "ActivitySucceeded", None, Some(done)),
        ];
        let view = read(&events, false).unwrap();
        let statuses: Vec<(&str, &str)> = view
            .waves
            .iter()
            .flat_map(|w| w.targets.iter())
            .map(|t| (t.name.as_str(), t.status.as_str()))
            .collect();
        assert_eq!(statuses, [("a", "Succeeded"), ("b", "Failed")]);
        assert_eq!(
            view.waves[1].targets[0].detail.as_deref(),
            Some("UpdateStack")
        );
    }

    #[test]
    fn a_single_deploy_is_no_rollout() {
        let events = vec![
            event(1, "TaskStateEntered", Some("CheckStack"), None),
            event(
                2,
                "ActivitySucceeded",
                None,
                Some(json!({"next": "create"})),
            ),
        ];
        assert_eq!(read(&events, false), None);
    }
}
