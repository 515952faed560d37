//! Live progress of a pipeline run: the stage it is in, the execution's
//! current state, the newest stack event. A spinner line on a terminal,
//! plain lines (one per change) otherwise.

use cpsf_worker::aws::Clients;
use cpsf_worker::history::event::Event;
use cpsf_worker::history::failure::read_newest;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// What the pipeline run looks like right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub status: String,
    pub stage: Option<String>,
    pub state: Option<String>,
    pub stack_event: Option<String>,
    /// The Deploy action's execution, once its job has reported.
    pub execution_arn: Option<String>,
    /// The Deploy action's execution id (which names its execution).
    pub action_execution_id: Option<String>,
}

impl Snapshot {
    pub fn is_done(&self) -> bool {
        !matches!(self.status.as_str(), "InProgress" | "Stopping" | "")
    }

    pub fn line(&self) -> String {
        let mut parts = vec![self.status.clone()];
        if let Some(stage) = &self.stage {
            parts.push(format!("stage {stage}"));
        }
        if let Some(state) = &self.state {
            parts.push(format!("state {state}"));
        }
        if let Some(event) = &self.stack_event {
            parts.push(format!("stack: {event}"));
        }
        parts.join(" · ")
    }
}

/// Reads the snapshot of pipeline execution `id`.
pub async fn snapshot(clients: &Clients, pipeline: &str, id: &str, stack: &str) -> Snapshot {
    let cp = &clients.codepipeline;
    let mut snap = Snapshot::default();
    if let Ok(out) = cp
        .get_pipeline_execution()
        .pipeline_name(pipeline)
        .pipeline_execution_id(id)
        .send()
        .await
    {
        snap.status = out
            .pipeline_execution()
            .and_then(|e| e.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
    }
    let mut execution_arn = None;
    if let Ok(state) = cp.get_pipeline_state().name(pipeline).send().await {
        for stage in state.stage_states() {
            let ours = stage
                .latest_execution()
                .is_some_and(|e| e.pipeline_execution_id() == id);
            if ours
                && stage
                    .latest_execution()
                    .is_some_and(|e| e.status().as_str() == "InProgress")
            {
                snap.stage = stage.stage_name().map(str::to_string);
            }
            if ours
                && let Some(arn) = stage
                    .action_states()
                    .iter()
                    .find_map(|a| a.latest_execution()?.external_execution_id())
            {
                execution_arn = Some(arn.to_string());
            }
            if ours
                && let Some(action) = stage
                    .action_states()
                    .iter()
                    .find_map(|a| a.latest_execution()?.action_execution_id())
            {
                snap.action_execution_id = Some(action.to_string());
            }
        }
    }
    snap.execution_arn = execution_arn.clone();
    if let Some(arn) = execution_arn {
        let history = clients
            .sfn
            .get_execution_history()
            .execution_arn(&arn)
            .reverse_order(true)
            .max_results(10)
            .send()
            .await;
        if let Ok(history) = history {
            let events: Vec<Event> = history.events().iter().map(Event::from_sdk).collect();
            snap.state = read_newest(&events).state;
        }
    }
    let events = clients
        .cloudformation()
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await;
    if let Some(newest) = events.ok().and_then(|e| e.stack_events().first().cloned()) {
        snap.stack_event = Some(format!(
            "{} {}",
            newest.logical_resource_id().unwrap_or("?"),
            newest.resource_status().map(|s| s.as_str()).unwrap_or("?")
        ));
    }
    snap
}

/// Where progress goes: a spinner on a terminal, plain lines elsewhere.
pub struct Display {
    bar: Option<ProgressBar>,
    last: String,
}

impl Display {
    pub fn new() -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed:>3} {wide_msg}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            last: String::new(),
        }
    }

    pub fn update(&mut self, prefix: &str, line: String) {
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(prefix.to_string());
                bar.set_message(line);
            }
            None if line != self.last => {
                println!("{prefix} {line}");
                self.last = line;
            }
            None => {}
        }
    }

    /// Leaves a final line for the run and clears the spinner.
    pub fn finish(&mut self, line: String) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        println!("{line}");
        self.last.clear();
    }
}

impl Default for Display {
    fn default() -> Self {
        Self::new()
    }
}
