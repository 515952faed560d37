//! The deleting half of `cpsf environments prune` (issue 19): the picked
//! environments deleted a few at once, each checked again just before its
//! delete, each seen through to its end, with a line per step as it
//! happens.

use super::listing::Listed;
use super::select::{self, Criteria, Pick};
use super::teardown::{self, Found, Next};
use crate::tasks::stack;
use aws_sdk_cloudformation::Client;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How one environment's prune ended.
/// The summary's last line: "2 selected of 5 environment(s): 1 deleted,
/// 0 failed".
pub fn tally(outcomes: &[Outcome], listed: usize, deleting: bool) -> String {
    let deleted = outcomes.iter().filter(|o| o.result == "deleted").count();
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    let dry = if deleting { "" } else { " (dry run)" };
    format!(
        "{} selected of {listed} environment(s): {deleted} deleted, {failed} failed{dry}",
        outcomes.len()
    )
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub environment: String,
    pub stack_name: String,
    pub region: String,
    /// "deleted", "already gone", "skipped: …" or "failed: …".
    pub result: String,
    pub seconds: u64,
}

impl Outcome {
    pub fn of(listed: &Listed, result: impl Into<String>, seconds: u64) -> Self {
        Outcome {
            environment: listed.environment.clone(),
            stack_name: listed.stack_name.clone(),
            region: listed.region.clone(),
            result: result.into(),
            seconds,
        }
    }

    pub fn failed(&self) -> bool {
        self.result.starts_with("failed")
    }
}

pub struct Pruner {
    /// CloudFormation by region.
    pub clients: BTreeMap<String, Client>,
    pub stack_prefix: Option<String>,
    /// How many deletes run at once.
    pub parallel: usize,
    /// The longest wait for one delete.
    pub wait_cap: Duration,
    /// False: a dry run, which says what would go and deletes nothing.
    pub delete: bool,
}

impl Pruner {
    /// Selects from `listed` by `criteria` and deletes (or, in a dry run,
    /// names) what is selected; the spared are in the answer as skipped.
    pub async fn prune(
        &self,
        listed: &[Listed],
        criteria: &Criteria,
        progress: &(dyn Fn(String) + Sync),
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        let mut chosen = Vec::new();
        let verb = if self.delete { "prune" } else { "would prune" };
        for (environment, pick) in select::select(listed, criteria) {
            match pick {
                Pick::Prune(reason) => {
                    progress(format!(
                        "{verb} {} ({}): {reason}",
                        environment.environment, environment.stack_name
                    ));
                    chosen.push(environment.clone());
                }
                Pick::Spare(why) => {
                    progress(format!(
                        "keep {} ({}): {why}",
                        environment.environment, environment.stack_name
                    ));
                    outcomes.push(Outcome::of(environment, format!("skipped: {why}"), 0));
                }
            }
        }
        if self.delete {
            outcomes.extend(self.run(&chosen, progress).await);
        } else {
            let dry = "would delete (dry run: --yes deletes)";
            outcomes.extend(chosen.iter().map(|l| Outcome::of(l, dry, 0)));
        }
        outcomes.sort_by(|a, b| (&a.region, &a.environment).cmp(&(&b.region, &b.environment)));
        outcomes
    }

    /// Deletes every environment in `picked`; `progress` hears each step.
    pub async fn run(&self, picked: &[Listed], progress: &(dyn Fn(String) + Sync)) -> Vec<Outcome> {
        let total = picked.len();
        futures_util::stream::iter(picked.iter().enumerate())
            .map(|(i, listed)| async move {
                let started = Instant::now();
                let label = format!(
                    "[{}/{total}] {} ({}, {})",
                    i + 1,
                    listed.environment,
                    listed.stack_name,
                    listed.region
                );
                progress(format!("{label}: deleting"));
                let result = match self.clients.get(&listed.region) {
                    Some(cfn) => self.prune_one(cfn, listed).await,
                    None => Err(format!("no client for region {}", listed.region)),
                };
                let result = result.unwrap_or_else(|e| format!("failed: {e}"));
                let seconds = started.elapsed().as_secs();
                progress(format!("{label}: {result} ({seconds}s)"));
                Outcome::of(listed, result, seconds)
            })
            .buffer_unordered(self.parallel.max(1))
            .collect()
            .await
    }

    /// One environment: described afresh and judged by the teardown rule
    /// (its tag, the prefix, termination protection, no other operation),
    /// deleted by its unique id, waited on.
    async fn prune_one(&self, cfn: &Client, listed: &Listed) -> Result<String, String> {
        let found = stack::describe(cfn, &listed.stack_id)
            .await
            .map_err(|e| e.cause)?;
        let stamp = found.as_ref().and_then(super::tags::of_stack);
        let facts = found
            .as_ref()
            .map(|s| Found::of(&listed.stack_name, s, stamp.as_ref()));
        match teardown::decide(
            &listed.environment,
            self.stack_prefix.as_deref(),
            facts.as_ref(),
        ) {
            Ok(Next::Gone) => return Ok("already gone".into()),
            Ok(Next::Delete) => {}
            Err(refused) => return Ok(format!("skipped: {}", refused.why)),
        }
        let started_at = crate::tasks::epoch_now();
        cfn.delete_stack()
            .stack_name(&listed.stack_id)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DeleteStack: {}",
                    aws_sdk_cloudformation::error::DisplayErrorContext(e)
                )
            })?;
        self.wait_gone(cfn, listed, started_at).await
    }

    async fn wait_gone(
        &self,
        cfn: &Client,
        listed: &Listed,
        started_at: f64,
    ) -> Result<String, String> {
        let deadline = Instant::now() + self.wait_cap;
        let mut pause = Duration::from_millis(500);
        while Instant::now() < deadline {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
            // A throttled or failed describe is asked again next round.
            let Ok(found) = stack::describe(cfn, &listed.stack_id).await else {
                continue;
            };
            match found
                .as_ref()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str())
            {
                None | Some("DELETE_COMPLETE") => return Ok("deleted".into()),
                Some("DELETE_FAILED") => {
                    let reason = stack::first_failure(cfn, &listed.stack_name, started_at)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "no failed resource event was found".into());
                    return Err(format!("DELETE_FAILED: {reason}"));
                }
                Some(_) => {}
            }
        }
        Err(format!(
            "still deleting after {}; it goes on in CloudFormation",
            humantime::format_duration(self.wait_cap)
        ))
    }
}
