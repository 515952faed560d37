//! `cpsf environments list | prune` (issue 19): every cpsf environment in
//! the account's regions, and the stale ones deleted safely. The work is
//! `environments::{listing, prune, table}`'s; this file is the flags.

use super::worker::FlagDuration;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use cpsf_worker::environments::heads::Heads;
use cpsf_worker::environments::listing;
use cpsf_worker::environments::select::Criteria;
use cpsf_worker::environments::table;
use cpsf_worker::prune::{self, Pruner};
use std::time::{Duration, SystemTime};

#[derive(Subcommand)]
pub enum EnvironmentsCommand {
    /// Every cpsf environment (a stack tagged cpsf:environment): name,
    /// stack, pipeline, revision, last deploy, status and age.
    List(ListArgs),
    /// Delete the environments last deployed longer ago than --older-than,
    /// whose ttlHours passed, or whose branch is no longer a head of
    /// --branches-from's repository. A dry run unless --yes.
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
    /// Also those whose branch is no longer a head of this git repository
    /// (a URL or a path; read with `git ls-remote --heads`). Branches are
    /// compared as stack-safe names, as environments record them.
    #[arg(long, value_name = "GIT URL OR PATH")]
    branches_from: Option<String>,
    /// Delete. Without it, a dry run that shows what would go.
    #[arg(long)]
    yes: bool,
    /// Deletes at once.
    #[arg(long, default_value_t = Pruner::PARALLEL as u32, value_parser = clap::value_parser!(u32).range(1..=32))]
    parallel: u32,
    /// The longest wait for one environment's delete.
    #[arg(long, default_value_t = FlagDuration(cpsf_worker::worker::WAIT_CAP))]
    wait_cap: FlagDuration,
    #[command(flatten)]
    r#where: Where,
}

pub async fn run(command: EnvironmentsCommand) -> Result<()> {
    match command {
        EnvironmentsCommand::List(args) => list(args).await,
        EnvironmentsCommand::Prune(args) => prune(args).await,
    }
}

async fn regions(place: &Where) -> Result<(aws_config::SdkConfig, Vec<String>)> {
    let sdk = cpsf_worker::aws::load_checked(None).await?;
    let regions = if place.regions.is_empty() {
        let region = sdk
            .region()
            .context("no region: set AWS_REGION or pass --regions")?;
        vec![region.to_string()]
    } else {
        place.regions.clone()
    };
    Ok((sdk, regions))
}

async fn list(args: ListArgs) -> Result<()> {
    let place = &args.r#where;
    let (sdk, regions) = regions(place).await?;
    let listed = listing::gather(&sdk, &regions, place.stack_prefix.as_deref()).await?;
    if place.json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else {
        let now = place.as_of.unwrap_or_else(SystemTime::now);
        print!("{}", table::environments(&listed, now));
        println!("{} environment(s)", listed.len());
    }
    Ok(())
}

async fn prune(args: PruneArgs) -> Result<()> {
    let place = &args.r#where;
    // Read first: when the heads cannot be read, nothing is listed or deleted.
    let branches = match &args.branches_from {
        Some(source) => Some(heads(source).await?),
        None => None,
    };
    let (sdk, regions) = regions(place).await?;
    let listed = listing::gather(&sdk, &regions, place.stack_prefix.as_deref()).await?;
    let criteria = Criteria {
        older_than: args.older_than,
        matching: args.matching.as_deref().map(wildmatch::WildMatch::new),
        branches,
        now: place.as_of.unwrap_or_else(SystemTime::now),
    };
    let pruner = Pruner {
        parallel: args.parallel as usize,
        delete: args.yes,
        ..Pruner::new(&sdk, &regions, place.stack_prefix.clone(), args.wait_cap.0)
    };
    let json = place.json;
    let progress = |line: String| {
        if !json {
            eprintln!("{line}");
        }
    };
    let outcomes = pruner.prune(&listed, &criteria, &progress).await;
    let failed = outcomes.iter().filter(|o| o.failed()).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        println!();
        print!("{}", prune::table(&outcomes));
        println!("{}", prune::tally(&outcomes, listed.len(), args.yes));
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} environment(s) could not be deleted (see the table)"
    );
    Ok(())
}

/// The branches of `source` by `git ls-remote --heads`, the tool users
/// already have (any URL git can read, with their credential helpers).
async fn heads(source: &str) -> Result<Heads> {
    ls_remote("git", source).await
}

async fn ls_remote(git: &str, source: &str) -> Result<Heads> {
    // A source starting '-' would be read by git as an option.
    anyhow::ensure!(
        !source.starts_with('-') && !source.trim().is_empty(),
        "--branches-from {source:?} is not a git URL or path"
    );
    let output = tokio::process::Command::new(git)
        .args(["ls-remote", "--heads", source])
        // Fail rather than wait for a password nobody will type (git(1),
        // GIT_TERMINAL_PROMPT).
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => anyhow::anyhow!(
                "--branches-from needs git, which is not on PATH: install git; nothing was deleted"
            ),
            _ => anyhow::anyhow!("could not run git ls-remote: {e}; nothing was deleted"),
        })?;
    anyhow::ensure!(
        output.status.success(),
        "git ls-remote --heads {source} failed ({}): {}; nothing was deleted",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Heads::parse(source, &String::from_utf8_lossy(&output.stdout))
        .map_err(|e| anyhow::anyhow!("{e}; nothing was deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    /// `cpsf environments prune` waits and deletes as the prune's own
    /// defaults say, not values typed again here.
    #[test]
    fn prune_defaults_are_the_pruners() {
        let command =
            Cli::command().mut_subcommand("environments", |c| c.mut_args(|a| a.env(None)));
        let matches = command
            .try_get_matches_from(["cpsf", "environments", "prune"])
            .unwrap();
        let Command::Environments {
            command: EnvironmentsCommand::Prune(args),
        } = Cli::from_arg_matches(&matches).unwrap().command
        else {
            unreachable!("parsed `cpsf environments prune`")
        };
        assert_eq!(args.wait_cap.0, cpsf_worker::worker::WAIT_CAP);
        assert_eq!(args.parallel as usize, Pruner::PARALLEL);
    }

    /// Heads that cannot be read stop the prune with git's reason, and
    /// say that nothing was deleted.
    #[tokio::test]
    async fn unreadable_heads_are_a_clear_error() {
        let missing = ls_remote("cpsf-no-such-git", ".").await.unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("needs git, which is not on PATH"),
            "{missing}"
        );
        let dir = std::env::temp_dir().join(format!("cpsf-not-a-repo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_a_repo = heads(dir.to_str().unwrap()).await.unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            not_a_repo.contains("git ls-remote --heads")
                && not_a_repo.contains("nothing was deleted"),
            "{not_a_repo}"
        );
        assert!(
            not_a_repo.contains("does not appear to be a git repository"),
            "git's own words: {not_a_repo}"
        );
        let option = heads("--upload-pack=touch /tmp/x").await.unwrap_err();
        assert!(
            option.to_string().contains("is not a git URL or path"),
            "{option}"
        );
    }
}
