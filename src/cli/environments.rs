//! `cpsf environments list | prune` (issue 19): every cpsf environment in
//! the account's regions, and the stale ones deleted safely.

use crate::environments::listing::{self, Listed};
use crate::environments::prune::{Outcome, Pruner};
use crate::environments::select::{self, Criteria, Pick};
use crate::environments::table;
use anyhow::{Context, Result};
use aws_sdk_cloudformation::Client;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

#[derive(Subcommand)]
pub enum EnvironmentsCommand {
    /// Every cpsf environment (a stack tagged cpsf:environment): name,
    /// stack, pipeline, revision, last deploy, status and age.
    List(ListArgs),
    /// Delete the environments last deployed longer ago than --older-than,
    /// or whose ttlHours passed. A dry run unless --yes.
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct Where {
    /// Regions to look in (comma-separated). Default: the configured region.
    #[arg(long, value_delimiter = ',', value_name = "REGION,…")]
    regions: Vec<String>,
    /// Only stacks whose names start with this (the worker's
    /// --stack-prefix, bootstrap's DeployedStackPrefix).
    #[arg(long, env = "CPSF_STACK_PREFIX", value_name = "PREFIX")]
    stack_prefix: Option<String>,
    /// Judge ages as of this time (RFC 3339) instead of now: what a
    /// scheduled prune will take next week.
    #[arg(long, value_parser = humantime::parse_rfc3339, value_name = "TIME")]
    as_of: Option<SystemTime>,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    r#where: Where,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Environments last deployed longer ago than this go (e.g. 7d, 36h).
    /// Without it, only those whose ttlHours passed.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "AGE")]
    older_than: Option<Duration>,
    /// Only environments whose names match this glob (e.g. 'feature-*').
    #[arg(long = "match", value_name = "GLOB")]
    matching: Option<String>,
    /// Delete. Without it, a dry run that shows what would go.
    #[arg(long)]
    yes: bool,
    /// Deletes at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    parallel: u32,
    /// The longest wait for one environment's delete.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    wait_cap: Duration,
    #[command(flatten)]
    r#where: Where,
}

pub async fn run(command: EnvironmentsCommand) -> Result<()> {
    match command {
        EnvironmentsCommand::List(args) => list(args).await,
        EnvironmentsCommand::Prune(args) => prune(args).await,
    }
}

/// CloudFormation in each region asked for, and every environment there.
async fn gather(place: &Where) -> Result<(BTreeMap<String, Client>, Vec<Listed>)> {
    let sdk = crate::aws::load_checked(None).await?;
    let regions = if place.regions.is_empty() {
        vec![
            sdk.region()
                .context("no region: set AWS_REGION or pass --regions")?
                .to_string(),
        ]
    } else {
        place.regions.clone()
    };
    let mut clients = BTreeMap::new();
    let mut listed = Vec::new();
    for region in regions {
        let config = sdk
            .to_builder()
            .region(aws_config::Region::new(region.clone()))
            .build();
        let cfn = Client::new(&config);
        listed.extend(listing::list(&cfn, &region, place.stack_prefix.as_deref()).await?);
        clients.insert(region, cfn);
    }
    Ok((clients, listed))
}

async fn list(args: ListArgs) -> Result<()> {
    let (_, listed) = gather(&args.r#where).await?;
    if args.r#where.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(());
    }
    let now = args.r#where.as_of.unwrap_or_else(SystemTime::now);
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                l.environment.clone(),
                l.stack_name.clone(),
                l.region.clone(),
                l.pipeline.clone().unwrap_or_else(|| "-".into()),
                l.revision
                    .as_deref()
                    .map(short_revision)
                    .unwrap_or_else(|| "-".into()),
                humantime::format_rfc3339_seconds(l.last_deploy).to_string(),
                l.status.clone(),
                select::short(now.duration_since(l.last_deploy).unwrap_or_default()),
                l.ttl
                    .map(|t| format!("{}h", t.as_secs() / 3600))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &[
                "ENVIRONMENT",
                "STACK",
                "REGION",
                "PIPELINE",
                "REVISION",
                "LAST DEPLOY",
                "STATUS",
                "AGE",
                "TTL"
            ],
            &rows
        )
    );
    println!("{} environment(s)", listed.len());
    Ok(())
}

/// A commit id or version id is recognisable by its first 12 characters.
fn short_revision(revision: &str) -> String {
    revision.chars().take(12).collect()
}

async fn prune(args: PruneArgs) -> Result<()> {
    let (clients, listed) = gather(&args.r#where).await?;
    let criteria = Criteria {
        older_than: args.older_than,
        matching: args.matching.as_deref().map(wildmatch::WildMatch::new),
        now: args.r#where.as_of.unwrap_or_else(SystemTime::now),
    };
    let picked = select::select(&listed, &criteria);
    let (to_prune, spared): (Vec<_>, Vec<_>) = picked
        .into_iter()
        .partition(|(_, pick)| matches!(pick, Pick::Prune(_)));
    let json = args.r#where.json;
    if !json {
        for (listed, pick) in &to_prune {
            if let Pick::Prune(reason) = pick {
                eprintln!(
                    "{} {} ({}): {reason}",
                    if args.yes { "prune" } else { "would prune" },
                    listed.environment,
                    listed.stack_name
                );
            }
        }
        for (listed, pick) in &spared {
            if let Pick::Spare(why) = pick {
                eprintln!("keep {} ({}): {why}", listed.environment, listed.stack_name);
            }
        }
    }
    let mut outcomes: Vec<Outcome> = spared
        .iter()
        .filter_map(|(l, pick)| match pick {
            Pick::Spare(why) => Some(Outcome::of(l, format!("skipped: {why}"), 0)),
            Pick::Prune(_) => None,
        })
        .collect();
    let chosen: Vec<Listed> = to_prune.iter().map(|(l, _)| (*l).clone()).collect();
    if args.yes {
        let pruner = Pruner {
            clients,
            stack_prefix: args.r#where.stack_prefix.clone(),
            parallel: args.parallel as usize,
            wait_cap: args.wait_cap,
        };
        let progress = |line: String| {
            if !json {
                eprintln!("{line}");
            }
        };
        outcomes.extend(pruner.run(&chosen, &progress).await);
    } else {
        outcomes.extend(
            chosen
                .iter()
                .map(|l| Outcome::of(l, "would delete (dry run: --yes deletes)", 0)),
        );
    }
    outcomes.sort_by(|a, b| (&a.region, &a.environment).cmp(&(&b.region, &b.environment)));
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        let rows: Vec<Vec<String>> = outcomes
            .iter()
            .map(|o| {
                vec![
                    o.environment.clone(),
                    o.stack_name.clone(),
                    o.region.clone(),
                    o.result.clone(),
                    format!("{}s", o.seconds),
                ]
            })
            .collect();
        println!();
        print!(
            "{}",
            table::render(&["ENVIRONMENT", "STACK", "REGION", "RESULT", "TOOK"], &rows)
        );
        let deleted = outcomes.iter().filter(|o| o.result == "deleted").count();
        println!(
            "{} selected of {} environment(s): {deleted} deleted, {failed} failed{}",
            outcomes.len(),
            listed.len(),
            if args.yes { "" } else { " (dry run)" }
        );
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} environment(s) could not be deleted (see the table)"
    );
    Ok(())
}
