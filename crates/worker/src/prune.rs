//! The deleting half of `cpsf environments prune` (issue 19; the picking
//! half is `environments/select.rs`): the picked
//! environments deleted a few at once, each checked again just before its
//! delete, each seen through to its end, with a line per step as it
//! happens.

use crate::environments::listing::Listed;
use crate::environments::select::{self, Criteria, Pick};
use crate::environments::teardown::{BUSY, NOT_AN_ENVIRONMENT, PROTECTED};
use crate::tasks::{TaskContext, check_teardown, delete_environment, wait_teardown};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The summary's last line: "2 selected of 5 environment(s): 1 deleted,
/// 0 failed".
pub fn tally(outcomes: &[Outcome], listed: usize, deleting: bool) -> String {
    let deleted = outcomes
        .iter()
        .filter(|o| o.result == Ended::Deleted)
        .count();
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
    /// In JSON and the table as its sentence ("deleted", "skipped: …").
    #[serde(serialize_with = "sentence")]
    pub result: Ended,
    pub seconds: u64,
}

/// How one environment's prune ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Deleted,
    /// Not there when it was checked again before its delete.
    AlreadyGone,
    /// A dry run's pick.
    WouldDelete,
    /// Not deleted, and rightly so: why.
    Skipped(String),
    /// The delete did not happen or did not finish: why.
    Failed(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Deleted => f.write_str("deleted"),
            Ended::AlreadyGone => f.write_str("already gone"),
            Ended::WouldDelete => f.write_str("would delete (dry run: --yes deletes)"),
            Ended::Skipped(why) => write!(f, "skipped: {why}"),
            Ended::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

fn sentence<S: serde::Serializer>(ended: &Ended, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(ended)
}

impl Outcome {
    pub fn of(listed: &Listed, result: Ended, seconds: u64) -> Self {
        Outcome {
            environment: listed.environment.clone(),
            stack_name: listed.stack_name.clone(),
            region: listed.region.clone(),
            result,
            seconds,
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self.result, Ended::Failed(_))
    }
}

pub struct Pruner {
    /// Where each region's environments are judged, deleted and waited on:
    /// the teardown's own steps (`tasks::check_teardown::judge`,
    /// `delete_environment::delete`, `wait_teardown::until_gone`), with the
    /// stack prefix and the longest wait for one delete.
    pub contexts: BTreeMap<String, TaskContext>,
    /// How many deletes run at once.
    pub parallel: usize,
    /// False: a dry run, which says what would go and deletes nothing.
    pub delete: bool,
}

impl Pruner {
    /// How many deletes run at once unless told (`--parallel`).
    pub const PARALLEL: usize = 4;

    /// A pruner in each of `regions` (the configuration's credentials),
    /// deleting only under `stack_prefix` and waiting up to `wait_cap` for
    /// each delete.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        regions: &[String],
        stack_prefix: Option<String>,
        wait_cap: Duration,
    ) -> Self {
        let contexts = regions
            .iter()
            .map(|region| {
                let clients = crate::aws::Clients::new(&crate::aws::in_region(sdk, region));
                let ctx = TaskContext {
                    stack_prefix: stack_prefix.clone(),
                    ..TaskContext::new(&clients, None, wait_cap)
                };
                (region.clone(), ctx)
            })
            .collect();
        Pruner {
            contexts,
            parallel: Self::PARALLEL,
            delete: false,
        }
    }

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
                    outcomes.push(Outcome::of(environment, Ended::Skipped(why), 0));
                }
            }
        }
        if self.delete {
            outcomes.extend(self.run(&chosen, progress).await);
        } else {
            outcomes.extend(chosen.iter().map(|l| Outcome::of(l, Ended::WouldDelete, 0)));
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
                let result = match self.contexts.get(&listed.region) {
                    Some(ctx) => prune_one(ctx, listed).await,
                    None => Err(format!("no client for region {}", listed.region)),
                };
                let result = result.unwrap_or_else(Ended::Failed);
                let seconds = started.elapsed().as_secs();
                progress(format!("{label}: {result} ({seconds}s)"));
                Outcome::of(listed, result, seconds)
            })
            .buffer_unordered(self.parallel.max(1))
            .collect()
            .await
    }
}

/// One environment, as its teardown goes: described afresh and judged by
/// the teardown rule (its tag, the prefix, termination protection, no
/// other operation), deleted by its unique id, waited on.
async fn prune_one(ctx: &TaskContext, listed: &Listed) -> Result<Ended, String> {
    let judged = check_teardown::judge(ctx, &listed.environment, &listed.stack_name).await;
    let stack = match judged {
        Ok(Some(stack)) => stack,
        Ok(None) => return Ok(Ended::AlreadyGone),
        Err(refused) if [NOT_AN_ENVIRONMENT, PROTECTED, BUSY].contains(&refused.name) => {
            return Ok(Ended::Skipped(refused.cause));
        }
        Err(e) => return Err(e.cause),
    };
    let id = stack.stack_id().unwrap_or(&listed.stack_name);
    let since = delete_environment::delete(ctx, id, None, None)
        .await
        .map_err(|e| e.cause)?;
    match wait_teardown::until_gone(ctx, id, &listed.stack_name, since).await {
        Ok(true) => Ok(Ended::Deleted),
        Ok(false) => Err(format!(
            "still deleting after {}; it goes on in CloudFormation",
            humantime::format_duration(ctx.wait_cap)
        )),
        Err(e) => Err(e.cause),
    }
}
/// `prune`'s summary table.
pub fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<Vec<String>> = outcomes
        .iter()
        .map(|o| {
            let took = format!("{}s", o.seconds);
            vec![
                o.environment.clone(),
                o.stack_name.clone(),
                o.region.clone(),
                o.result.to_string(),
                took,
            ]
        })
        .collect();
    crate::environments::table::render(&["ENVIRONMENT", "STACK", "REGION", "RESULT", "TOOK"], &rows)
}
