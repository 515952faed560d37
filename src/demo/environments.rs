//! `cpsf demo --environments`: environments per branch (issue 19). One
//! per-branch pipeline deploys three branches at once (each its own stack,
//! told apart by the pipeline's `branch` variable), the environments are
//! listed, one is torn down through the same pipeline, and the rest are
//! pruned: first a dry run, then for real.
//!
//! Everything is seconds old, so the prune judges ages as of a few days
//! ahead (`--as-of`), as a scheduled prune would see them then. One
//! environment gets termination protection first, to show that prune
//! names it and leaves it.

use super::APP_TEMPLATE;
use super::pipeline::{action_summary, deploy_action, put_source};
use super::setup;
use super::watch::{self, Display, Snapshot};
use anyhow::Context;
use aws_sdk_cloudformation::types::{Stack, StackStatus};
use cpsf_playground::names::STACK_PREFIX;
use cpsf_worker::aws::Clients;
use cpsf_worker::environments::listing::{self, Listed};
use cpsf_worker::environments::select::Criteria;
use cpsf_worker::environments::{name, spec, table, tags};
use cpsf_worker::prune::{self, Ended, Outcome, Pruner};
use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};

/// The per-branch pipeline, beside the default runs' `cpsf-demo`.
pub const PIPELINE: &str = "cpsf-demo-branches";
/// The branches deployed, as a CI system would name them.
const BRANCHES: [&str; 3] = ["feature/login", "feature/search", "fix/typo-42"];
/// Torn down through the pipeline (step 3).
const TORN_DOWN: &str = "feature/login";
/// Protected before the prune, which then leaves it (steps 4 and 5).
const PROTECTED: &str = "feature/search";
/// The one the prune takes.
const STALE: &str = "fix/typo-42";
/// The prune's clock is this far ahead, so seconds-old stacks look stale…
const AHEAD: Duration = Duration::from_secs(3 * 86_400);
/// …by this limit (`--older-than`, read by the CLI's parser).
const OLDER_THAN: &str = "1d";
const STEPS: usize = 5;

/// One branch: its name, its environment (the sanitised name) and stack.
struct Branch {
    name: &'static str,
    environment: String,
    stack: String,
}

impl Branch {
    fn new(name: &'static str, stack: &str) -> anyhow::Result<Self> {
        let environment = name::sanitise(name).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let stack = spec::stack_name_for(stack, &environment);
        Ok(Branch {
            name,
            environment,
            stack,
        })
    }
}

/// Runs the five steps; true when each did what it should.
pub async fn run(clients: &Clients, machine: &str, deploy: &Value) -> anyhow::Result<bool> {
    let stack = deploy["stackName"].as_str().context("no stackName")?;
    let branches = BRANCHES
        .iter()
        .map(|b| Branch::new(b, stack))
        .collect::<anyhow::Result<Vec<_>>>()?;
    declare(clients, machine, deploy, &branches).await?;
    let steps = [
        deploy_all(clients, &branches).await?,
        list(clients, &branches).await?,
        tear_down(clients, &branches).await?,
        prune(clients, &branches, false).await?,
        prune(clients, &branches, true).await?,
    ];
    let passed = steps.iter().filter(|ok| **ok).count();
    println!();
    println!("{passed} of {STEPS} steps did what they should.");
    let kept = pick(&branches, PROTECTED);
    println!(
        "{} stays: protection kept it. To let the next prune take it: aws cloudformation \
         update-termination-protection --no-enable-termination-protection --stack-name {}",
        kept.environment, kept.stack
    );
    Ok(passed == STEPS)
}

/// The per-branch pipeline, the app as its source (each environment's SSM
/// parameter named after it), and no stacks left by an earlier demo.
async fn declare(
    clients: &Clients,
    machine: &str,
    deploy: &Value,
    branches: &[Branch],
) -> anyhow::Result<()> {
    let input = cpsf_worker::pipeline::branch_input("deploy.json");
    println!(
        "Declaring the pipeline {PIPELINE}: variables branch (default main) and operation \
         (default deploy); its Deploy action's Input is {input}"
    );
    let configuration = [
        ("StateMachineArn", machine),
        ("InputType", "Literal"),
        ("Input", input.as_str()),
    ];
    let pipeline = cpsf_worker::pipeline::per_branch(setup::pipeline(PIPELINE, &configuration));
    setup::create_or_update_pipeline(clients, pipeline).await?;
    for branch in branches {
        setup::remove_stack(clients, &branch.stack).await?;
    }
    let mut deploy = deploy.clone();
    deploy["parameters"]["Environment"] = "{environment}".into();
    put_source(clients, &deploy, APP_TEMPLATE).await
}

/// Step 1: the three branches at once, each checked for its stack and tag.
async fn deploy_all(clients: &Clients, branches: &[Branch]) -> anyhow::Result<bool> {
    step(1, "three branches deployed by one pipeline, all at once");
    let mut ids = Vec::new();
    for branch in branches {
        command(&start_command(branch, ""));
        ids.push(
            cpsf_worker::pipeline::start(
                &clients.codepipeline,
                PIPELINE,
                &[("branch", branch.name)],
            )
            .await?,
        );
    }
    let ends = follow(clients, "deploy", branches, &ids).await;
    let mut all_ok = true;
    for ((branch, id), end) in branches.iter().zip(&ids).zip(&ends) {
        let tagged = environment_tag(clients, &branch.stack).await?;
        let ok = end.status == "Succeeded" && tagged.as_deref() == Some(&branch.environment);
        let summary = action_summary(deploy_action(clients, PIPELINE, id).await.as_ref());
        check(
            &format!(
                "{} → {} ({}={}): {summary}",
                branch.name,
                branch.stack,
                tags::ENVIRONMENT,
                tagged.as_deref().unwrap_or("none")
            ),
            ok,
        );
        all_ok &= ok;
    }
    Ok(all_ok)
}

/// Step 2: the table `cpsf environments list` prints.
async fn list(clients: &Clients, branches: &[Branch]) -> anyhow::Result<bool> {
    step(2, "the environments, as cpsf environments list shows them");
    command(&format!(
        "cpsf environments list --stack-prefix {STACK_PREFIX}"
    ));
    let listed = gather(clients).await?;
    print!("{}", table::environments(&listed, SystemTime::now()));
    let ours = |b: &Branch| {
        listed
            .iter()
            .any(|l| l.stack_name == b.stack && l.pipeline.as_deref() == Some(PIPELINE))
    };
    let ok = branches.iter().all(ours);
    check(
        &format!(
            "{} environment(s), the three branches' among them",
            listed.len()
        ),
        ok,
    );
    Ok(ok)
}

/// Step 3: one environment torn down by the pipeline (`operation=delete`).
async fn tear_down(clients: &Clients, branches: &[Branch]) -> anyhow::Result<bool> {
    let branch = pick(branches, TORN_DOWN);
    step(
        3,
        &format!("{} torn down through the same pipeline", branch.name),
    );
    command(&start_command(branch, " name=operation,value=delete"));
    let variables = [("branch", branch.name), ("operation", "delete")];
    let id = cpsf_worker::pipeline::start(&clients.codepipeline, PIPELINE, &variables).await?;
    let end = follow(
        clients,
        "teardown",
        std::slice::from_ref(branch),
        std::slice::from_ref(&id),
    )
    .await;
    let summary = action_summary(deploy_action(clients, PIPELINE, &id).await.as_ref());
    let gone = !exists(clients, &branch.stack).await?;
    let others = present(clients, branches, |b| b.name != TORN_DOWN).await?;
    let ok = end[0].status == "Succeeded" && gone && others;
    check(
        &format!("{summary}; {} is gone, the other two are not", branch.stack),
        ok,
    );
    Ok(ok)
}

/// Steps 4 (`delete` false: a dry run) and 5: prune as of a few days
/// ahead, with one environment protected.
async fn prune(clients: &Clients, branches: &[Branch], delete: bool) -> anyhow::Result<bool> {
    let now = SystemTime::now() + AHEAD;
    let as_of = humantime::format_rfc3339_seconds(now);
    let protected = pick(branches, PROTECTED);
    if delete {
        step(5, "prune, for real (--yes)");
    } else {
        step(4, "prune, a dry run");
        println!(
            "  The environments are seconds old, so the prune judges their ages as of {as_of} \
             (--as-of, 3 days ahead), when they are older than {OLDER_THAN}. {} gets \
             termination protection first, as a long-lived environment might: prune never \
             deletes it.",
            protected.environment
        );
        setup::protect(clients, &protected.stack, true).await?;
    }
    let yes = if delete { " --yes" } else { "" };
    command(&format!(
        "cpsf environments prune --stack-prefix {STACK_PREFIX} --older-than {OLDER_THAN} \
         --as-of {as_of}{yes}"
    ));
    let listed = gather(clients).await?;
    let pruner = Pruner {
        delete,
        ..Pruner::new(
            &clients.sdk,
            &[region(clients)?],
            Some(STACK_PREFIX.into()),
            Duration::from_secs(120),
        )
    };
    let criteria = Criteria {
        older_than: Some(humantime::parse_duration(OLDER_THAN)?),
        matching: None,
        branches: None,
        now,
    };
    let outcomes = pruner
        .prune(&listed, &criteria, &|line| println!("  {line}"))
        .await;
    print!("{}", prune::table(&outcomes));
    println!("{}", prune::tally(&outcomes, listed.len(), delete));

    // The unprotected survivor goes (or would); the protected one stays.
    let stale = pick(branches, STALE);
    let expected = if delete {
        Ended::Deleted
    } else {
        Ended::WouldDelete
    };
    let protection = Ended::Skipped("termination protection".into());
    let result_of = |b: &Branch| result_for(&outcomes, b);
    let decided = result_of(stale) == Some(&expected) && result_of(protected) == Some(&protection);
    let stale_left = exists(clients, &stale.stack).await?;
    let kept = exists(clients, &protected.stack).await?;
    let ok = decided && kept && stale_left != delete;
    let left = if delete {
        format!("{} deleted", stale.environment)
    } else {
        "nothing deleted".into()
    };
    check(
        &format!("{left}, {} kept by its protection", protected.environment),
        ok,
    );
    Ok(ok)
}

/// How `branch`'s prune ended; None when it was not selected.
fn result_for<'a>(outcomes: &'a [Outcome], branch: &Branch) -> Option<&'a Ended> {
    outcomes
        .iter()
        .find(|o| o.stack_name == branch.stack)
        .map(|o| &o.result)
}

/// Follows pipeline executions `ids` (one per branch) to their ends, on
/// one progress line; returns how each ended.
async fn follow(
    clients: &Clients,
    prefix: &str,
    branches: &[Branch],
    ids: &[String],
) -> Vec<Snapshot> {
    let started = Instant::now();
    let mut display = Display::new();
    loop {
        let mut ends = Vec::new();
        for (branch, id) in branches.iter().zip(ids) {
            ends.push(watch::snapshot(clients, PIPELINE, id, &branch.stack).await);
        }
        let line: Vec<String> = branches
            .iter()
            .zip(&ends)
            .map(|(branch, end)| progress(branch, end))
            .collect();
        display.update(prefix, line.join(" · "));
        if ends.iter().all(Snapshot::is_done) {
            let succeeded = ends.iter().filter(|e| e.status == "Succeeded").count();
            display.finish(format!(
                "{prefix} — {succeeded} of {} Succeeded in {:.1}s",
                ends.len(),
                started.elapsed().as_secs_f64()
            ));
            return ends;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// "feature-login InProgress (WorkQueue CREATE_COMPLETE)": the run's
/// status and its stack's newest event (the stack's own without its name).
fn progress(branch: &Branch, end: &Snapshot) -> String {
    let event = end
        .stack_event
        .as_deref()
        .map(|e| e.strip_prefix(branch.stack.as_str()).unwrap_or(e).trim());
    match event {
        Some(event) => format!("{} {} ({event})", branch.environment, end.status),
        None => format!("{} {}", branch.environment, end.status),
    }
}

/// Every environment under the demo's stack prefix in the playground's
/// region, as `cpsf environments` gathers them.
async fn gather(clients: &Clients) -> anyhow::Result<Vec<Listed>> {
    listing::gather(&clients.sdk, &[region(clients)?], Some(STACK_PREFIX)).await
}

/// The playground's region.
fn region(clients: &Clients) -> anyhow::Result<String> {
    Ok(clients.sdk.region().context("no region")?.to_string())
}

/// Stack `name`, unless there is none (or only a deleted one).
async fn live_stack(clients: &Clients, name: &str) -> anyhow::Result<Option<Stack>> {
    let found = cpsf_worker::cloudformation::stack::describe(&clients.cloudformation(), name)
        .await
        .map_err(|e| anyhow::anyhow!("DescribeStacks {name}: {}", e.cause))?;
    Ok(found.filter(|s| s.stack_status() != Some(&StackStatus::DeleteComplete)))
}

async fn exists(clients: &Clients, name: &str) -> anyhow::Result<bool> {
    Ok(live_stack(clients, name).await?.is_some())
}

/// The stack's `cpsf:environment` tag, when the stack exists.
async fn environment_tag(clients: &Clients, name: &str) -> anyhow::Result<Option<String>> {
    let found = live_stack(clients, name).await?;
    Ok(found
        .as_ref()
        .and_then(tags::of_stack)
        .map(|stamp| stamp.environment))
}

/// Whether every branch `which` picks still has its stack.
async fn present(
    clients: &Clients,
    branches: &[Branch],
    which: impl Fn(&Branch) -> bool,
) -> anyhow::Result<bool> {
    for branch in branches.iter().filter(|b| which(b)) {
        if !exists(clients, &branch.stack).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn pick<'a>(branches: &'a [Branch], name: &str) -> &'a Branch {
    branches
        .iter()
        .find(|b| b.name == name)
        .expect("one of BRANCHES")
}

/// What a user would type to start the pipeline for `branch`.
fn start_command(branch: &Branch, more: &str) -> String {
    format!(
        "aws codepipeline start-pipeline-execution --name {PIPELINE} --variables \
         name=branch,value={}{more}",
        branch.name
    )
}

fn step(number: usize, what: &str) {
    println!();
    println!("Step {number}/{STEPS}: {what}");
}

fn command(line: &str) {
    println!("  $ {line}");
}

fn check(what: &str, ok: bool) {
    let verdict = if ok { "ok" } else { "NOT OK" };
    println!("  {what} [{verdict}]");
}
