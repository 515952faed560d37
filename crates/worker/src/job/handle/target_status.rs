//! A deploying wave's targets as the pipeline's summary shows them, looked
//! at when a round ends (`follow.rs`): each target's child execution and,
//! while it runs, its stack, so a long rollout reads "wave 2/3: prod-use1
//! UPDATE_IN_PROGRESS, prod-euw1 preparing" rather than only "deploying".
//! Where to look and the word shown are pure (`targets::live`).

use super::JobRunner;
use crate::execution::ExecutionStatus;
use crate::sfn::{DescribeError, Described};
use crate::targets::glance::Glance;
use crate::targets::live::{self, Place, Seen};
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;

/// Targets looked at at once (each look is one or two calls).
const LOOKS_AT_ONCE: usize = 4;
/// A summary is no reason to hold a report back: past this, every target
/// keeps "deploying".
const LOOK_FOR: Duration = Duration::from_secs(10);

impl JobRunner {
    /// Fills in what each of the deploying wave's targets is doing. Best
    /// effort: a target that cannot be looked at keeps "deploying".
    pub(super) async fn look_at_targets(&self, described: &Described, glance: &mut Glance) {
        let names = glance.deploying();
        let Some(input) = described.input.as_deref().filter(|_| !names.is_empty()) else {
            return;
        };
        let looks = futures_util::stream::iter(live::places(input, &described.arn, &names))
            .map(|place| async move {
                let seen = self.see(&place).await;
                (place.key.name, seen)
            })
            .buffer_unordered(LOOKS_AT_ONCE)
            .collect::<Vec<_>>();
        let Ok(seen) = tokio::time::timeout(LOOK_FOR, looks).await else {
            tracing::debug!("the rollout's targets took too long to look at");
            return;
        };
        for (name, seen) in seen {
            let found = glance.targets.iter_mut().find(|(n, _)| *n == name);
            if let (Some((_, word)), Some(seen)) = (found, seen) {
                *word = live::label(&seen);
            }
        }
    }

    /// What the target's child execution, then its stack, say; None when
    /// either could not be asked.
    async fn see(&self, place: &Place) -> Option<Seen> {
        let child = match self.sfn.describe(&place.execution_arn).await {
            Ok(child) => child,
            Err(DescribeError::Gone(_)) => return Some(Seen::NotStarted),
            Err(DescribeError::Other(_)) => return None,
        };
        if child.status.is_terminal() {
            let stack_status = child
                .output
                .as_deref()
                .and_then(|output| serde_json::from_str::<Value>(output).ok())
                .and_then(|output| Some(output.get("stackStatus")?.as_str()?.to_string()));
            return Some(Seen::Ended {
                succeeded: child.status == ExecutionStatus::Succeeded,
                stack_status,
            });
        }
        let session = format!("cpsf-status-{}", place.key.name);
        let config = self.reach.config(&place.key, &session).await.ok()?;
        let cfn = aws_sdk_cloudformation::Client::new(&config);
        let stack = crate::cloudformation::stack::describe(&cfn, &place.stack_name)
            .await
            .ok()?;
        Some(Seen::Running {
            started: child.start_date.unwrap_or_default(),
            stack: stack.and_then(|stack| {
                let changed = stack.last_updated_time().or(stack.creation_time())?;
                Some((
                    stack.stack_status()?.as_str().to_string(),
                    changed.as_secs_f64(),
                ))
            }),
        })
    }
}
