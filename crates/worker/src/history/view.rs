//! What `cpsf history` shows: a timeline for people, and a stable JSON
//! form for programs (documented in README, "cpsf history --json").
//! Pure: events (oldest first) in, text or JSON out.

use super::event::Event;
use super::failure::read_newest;
use super::rollout::RolloutView;
use super::timeline::{Step, timeline};
use serde::Serialize;
use std::fmt::Write;

/// The JSON form's version: bumped only on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    pub format_version: u32,
    pub execution_arn: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    pub event_count: usize,
    /// From the first event to the last.
    pub duration_seconds: f64,
    pub steps: Vec<Step>,
    pub failure: Option<Failure>,
    /// A rollout's waves and targets (absent for a single deploy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutView>,
    /// A person's decision on the change set (RequestApproval's result:
    /// approved, by, comment, via); a rejection shows as the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<serde_json::Value>,
    /// The parameters read from other stacks' outputs, and where from
    /// (`references::sources`: parameter, fromStack, output, account,
    /// region), as CreateStack or UpdateStack answered them; for a
    /// rollout, the text naming each target and where it read them
    /// (`targets::sources::note`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_from: Option<serde_json::Value>,
    /// A canary's steps as CanaryStep applied them, in order
    /// (`canary::plan::step_line`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub canary: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub state: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The task whose error led to the failure, when it differs.
    pub task_state: Option<String>,
    pub task_error: Option<String>,
    pub task_cause: Option<String>,
}

impl View {
    pub fn new(execution_arn: &str, events: &[Event]) -> Self {
        let status = status(events);
        let failure = matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED").then(|| {
            let newest_first: Vec<Event> = events.iter().rev().cloned().collect();
            let facts = read_newest(&newest_first).failure;
            let task = facts.task.unwrap_or_default();
            Failure {
                state: facts.state,
                error: facts.error,
                cause: facts.cause,
                task_state: task.state,
                task_error: task.error,
                task_cause: task.cause,
            }
        });
        let duration = match (events.first(), events.last()) {
            (Some(first), Some(last)) => last.timestamp - first.timestamp,
            _ => 0.0,
        };
        Self {
            format_version: FORMAT_VERSION,
            execution_arn: execution_arn.to_string(),
            status: status.to_string(),
            event_count: events.len(),
            duration_seconds: round_ms(duration),
            steps: timeline(events)
                .into_iter()
                .map(|mut s| {
                    s.entered_seconds = round_ms(s.entered_seconds);
                    s.duration_seconds = s.duration_seconds.map(round_ms);
                    s
                })
                .collect(),
            failure,
            rollout: super::rollout::read(events, status == "RUNNING"),
            approval: events
                .iter()
                .filter_map(|e| {
                    serde_json::from_str::<serde_json::Value>(e.output.as_deref()?).ok()
                })
                .find(|output| crate::approval::decision::said(output).is_some()),
            parameters_from: parameters_from(events),
            canary: events
                .iter()
                .filter_map(|e| crate::canary::plan::glance(e.output.as_deref()?, None, None))
                .map(|g| crate::canary::plan::step_line(&g.progress))
                .collect(),
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes")
    }

    /// The timeline for a terminal: one line per state, the failed one
    /// marked `✗`, failed attempts under their state, the failure last.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "execution  {}", self.execution_arn);
        let _ = writeln!(
            out,
            "status     {} after {:.1}s ({} events)",
            self.status, self.duration_seconds, self.event_count
        );
        let _ = writeln!(out);
        let width = self.steps.iter().map(|s| s.state.len()).max().unwrap_or(0);
        for step in &self.steps {
            let mark = if step.failed { "✗" } else { " " };
            let duration = match step.duration_seconds {
                Some(d) => format!("{d:.2}s"),
                None if step.failed => "-".into(),
                None => "running".into(),
            };
            let offset = format!("+{:.2}s", step.entered_seconds);
            let _ = write!(
                out,
                "{mark} {offset:>9}  {:<width$}  {:<8} {:>8}",
                step.state, step.kind, duration
            );
            if step.failed
                && let Some(failure) = &self.failure
            {
                let _ = write!(out, "  {}", pair(&failure.error, &failure.cause));
            }
            let _ = writeln!(out);
            for (i, attempt) in step.failed_attempts.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{:>13}attempt {} failed: {}",
                    "",
                    i + 1,
                    pair(&attempt.error, &attempt.cause)
                );
            }
        }
        if let Some(rollout) = &self.rollout {
            rollout_text(&mut out, rollout);
        }
        if let Some(said) = self
            .approval
            .as_ref()
            .and_then(crate::approval::decision::said)
        {
            let _ = writeln!(out, "\napproval   {said}");
        }
        for (i, step) in self.canary.iter().enumerate() {
            let label = if i == 0 { "canary" } else { "" };
            let _ = writeln!(out, "{}{label:<10} {step}", if i == 0 { "\n" } else { "" });
        }
        if let Some(sources) = &self.parameters_from {
            let said = match sources {
                serde_json::Value::String(rollout) => rollout.clone(),
                list => crate::references::note(list),
            };
            let _ = writeln!(out, "\nparameters {said}");
        }
        if let Some(failure) = &self.failure {
            let _ = writeln!(out);
            let state = failure.state.as_deref().unwrap_or("?");
            let _ = write!(
                out,
                "failed in state '{state}': {}",
                pair(&failure.error, &failure.cause)
            );
            if failure.task_error.is_some()
                && (failure.task_error != failure.error || failure.task_cause != failure.cause)
            {
                let task = failure.task_state.as_deref().unwrap_or("?");
                let _ = write!(
                    out,
                    "\ncaused by task '{task}': {}",
                    pair(&failure.task_error, &failure.task_cause)
                );
            }
            let _ = writeln!(out);
        }
        out
    }
}

/// The first task output that lists parameters read from other stacks'
/// outputs (`resolved`: CreateStack's or UpdateStack's result), or a
/// finished rollout's note of where its targets read them (FinishWave's
/// `progress.result.parametersFrom`: `targets::sources`).
fn parameters_from(events: &[Event]) -> Option<serde_json::Value> {
    events
        .iter()
        .filter_map(|e| serde_json::from_str::<serde_json::Value>(e.output.as_deref()?).ok())
        .find_map(|output| {
            let resolved = output
                .get("resolved")
                .filter(|r| r.as_array().is_some_and(|a| !a.is_empty()));
            let rollout = output
                .pointer("/progress/result/parametersFrom")
                .filter(|n| n.is_string());
            resolved.or(rollout).cloned()
        })
}

/// Each wave and its targets, one line a target: its status, then its
/// stack or where it failed, then its own execution (`cpsf history` it).
fn rollout_text(out: &mut String, rollout: &RolloutView) {
    let waves = rollout.waves.len();
    let targets: usize = rollout.waves.iter().map(|w| w.targets.len()).sum();
    let _ = writeln!(out, "\nrollout    {waves} waves, {targets} targets");
    let width = rollout
        .waves
        .iter()
        .flat_map(|w| &w.targets)
        .map(|t| t.name.len())
        .max()
        .unwrap_or(0);
    for wave in &rollout.waves {
        for (i, target) in wave.targets.iter().enumerate() {
            let label = if i == 0 {
                format!("wave {}/{waves}", wave.number)
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "  {label:<10} {:<width$}  {:<11}",
                target.name, target.status
            );
            if let Some(said) = target.detail.as_ref().or(target.stack_id.as_ref()) {
                let _ = write!(out, "  {said}");
            }
            let _ = writeln!(out);
            if let Some(arn) = &target.execution_arn {
                let _ = writeln!(out, "  {:<10} {:<width$}  execution {arn}", "", "");
            }
        }
    }
}

/// One event as `--follow` prints it: type, state, error.
pub fn event_line(event: &Event) -> String {
    let mut line = event.kind.clone();
    if let Some(state) = &event.state {
        line.push_str(&format!("  {state}"));
    }
    if event.error.is_some() || event.cause.is_some() {
        line.push_str(&format!("  {}", pair(&event.error, &event.cause)));
    }
    line
}

/// The execution's status as its events tell it.
pub fn status(events: &[Event]) -> &'static str {
    match events.last().map(|e| e.kind.as_str()) {
        Some("ExecutionSucceeded") => "SUCCEEDED",
        Some("ExecutionFailed") => "FAILED",
        Some("ExecutionTimedOut") => "TIMED_OUT",
        Some("ExecutionAborted") => "ABORTED",
        _ => "RUNNING",
    }
}

fn pair(error: &Option<String>, cause: &Option<String>) -> String {
    match (error, cause) {
        (Some(e), Some(c)) => format!("{e}: {c}"),
        (Some(e), None) => e.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => "no error given".into(),
    }
}

/// Milliseconds are what a history resolves; rounding keeps JSON stable.
fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Compares with tests/data/histories/<name>.<ext>; `UPDATE_GOLDEN=1`
    /// rewrites the file instead (read the diff before committing it).
    fn golden(name: &str, ext: &str, actual: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../tests/data/histories/{name}.{ext}"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(actual, expected, "{} differs", path.display());
    }

    fn view(name: &str) -> View {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../tests/data/histories/{name}.json"));
        let events = Event::from_aws_json(&std::fs::read_to_string(path).unwrap()).unwrap();
        View::new(
            &format!("arn:aws:states:us-east-1:123456789012:execution:recorded:{name}"),
            &events,
        )
    }

    #[test]
    fn recorded_histories_render_as_expected() {
        for name in ["deploy-succeeded", "failed-after-retries", "task-timed-out"] {
            let view = view(name);
            golden(name, "timeline.txt", &view.text());
            golden(name, "view.json", &format!("{}\n", view.json()));
        }
    }

    #[test]
    fn the_failed_state_and_its_retries_stand_out() {
        let view = view("failed-after-retries");
        assert_eq!(view.status, "FAILED");
        let failed: Vec<&Step> = view.steps.iter().filter(|s| s.failed).collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].state, "GaveUp");
        let task = view.steps.iter().find(|s| s.state == "CallWorker").unwrap();
        assert_eq!(task.failed_attempts.len(), 3, "two retries, then caught");
        let text = view.text();
        let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('✗')).collect();
        assert!(marked.len() == 1 && marked[0].contains("GaveUp"), "{text}");
        assert!(
            text.contains("failed in state 'GaveUp': Demo.GaveUp"),
            "{text}"
        );
        assert_eq!(view_status_of("task-timed-out"), "FAILED");
    }

    /// `cpsf history` shows where each parameter read from another
    /// stack's output came from, as CreateStack's result lists it.
    #[test]
    fn parameters_from_other_stacks_outputs_are_shown() {
        let created = serde_json::json!({"stackId": "s", "startedAt": 1.0, "changes": [],
            "resolved": [{"parameter": "LayerArn", "fromStack": "todolayer-dev",
                          "output": "LayerArn", "account": "222222222222",
                          "region": "eu-west-1"}]});
        let event = |id, kind: &str, output: Option<String>| Event {
            id,
            timestamp: id as f64,
            kind: kind.into(),
            state: None,
            error: None,
            cause: None,
            output,
        };
        let events = [
            event(1, "ExecutionStarted", None),
            event(2, "ActivitySucceeded", Some(created.to_string())),
            event(3, "ExecutionSucceeded", None),
        ];
        let view = View::new("arn:aws:states:us-east-1:1:execution:m:e", &events);
        assert!(
            view.text()
                .contains("parameters LayerArn ← todolayer-dev.LayerArn (222222222222/eu-west-1)"),
            "{}",
            view.text()
        );
        assert_eq!(
            view.parameters_from.unwrap()[0]["fromStack"],
            "todolayer-dev"
        );
        let plain = View::new("arn:aws:states:us-east-1:1:execution:m:e", &events[..1]);
        assert!(plain.parameters_from.is_none() && !plain.json().contains("parametersFrom"));
        // A finished rollout: FinishWave's progress carries where its
        // targets read them (`targets::sources`).
        let note = "from stack outputs: LayerArn ← todolayer-dev.LayerArn at dev \
                    (222222222222/eu-west-1)";
        let finished = serde_json::json!({"progress": {"wave": 1, "done": true,
            "result": {"summary": "rollout complete", "parametersFrom": note}}});
        let rollout = [
            event(1, "ExecutionStarted", None),
            event(2, "ActivitySucceeded", Some(finished.to_string())),
        ];
        let view = View::new("arn:aws:states:us-east-1:1:execution:m:e", &rollout);
        assert!(
            view.text().contains(&format!("parameters {note}")),
            "{}",
            view.text()
        );
    }

    fn view_status_of(name: &str) -> String {
        view(name).status
    }
}
