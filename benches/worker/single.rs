//! `CPSF_BENCH_ONLY=<part>`: one part of the benchmark alone, its results
//! kept as bench/results/<part>-<emulator>.{json,md} (artifacts: .json).

use crate::{Plan, World, artifacts, events, keep, machine, pickup, recovery, results_dir, waits};
use serde_json::json;

/// Runs the part `only` names; false when it names none of these (the
/// full run, or the footprint, which main runs itself).
pub async fn run(only: &str, world: &World, plan: &Plan) -> anyhow::Result<bool> {
    let emulator = world.playground.emulator().name();
    let now = || humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let plan_name = if plan.quick { "quick" } else { "full" };
    let (name, results, markdown) = match only {
        "artifacts" => {
            let large = artifacts::large_artifacts(world).await?;
            let text = serde_json::to_string_pretty(&large)?;
            std::fs::write(
                results_dir().join(format!("artifacts-{emulator}.json")),
                &text,
            )?;
            println!("{text}");
            return Ok(true);
        }
        "recovery" => {
            let executions = if plan.quick { 300 } else { 1000 };
            let results = recovery::recovery(world, executions).await?;
            let markdown = format!(
                "Run {} ({emulator}), recovery at start only.\n{}",
                now(),
                recovery::report(&results)
            );
            (format!("recovery-{emulator}"), results, markdown)
        }
        "pickup" => {
            let results = pickup::pickup(world, plan).await?;
            // A run of an older binary is kept apart, and shown beside.
            let before = std::env::var("CPSF_BENCH_PICKUP_AS").is_ok_and(|a| a == "before");
            let name = format!("pickup-{emulator}{}", if before { "-before" } else { "" });
            let kept_before = std::fs::read_to_string(
                results_dir().join(format!("pickup-{emulator}-before.json")),
            )
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .filter(|_| !before);
            let markdown = pickup::report(&results, kept_before.as_ref());
            (name, results, markdown)
        }
        "events" => {
            let results = events::compare(world, plan).await?;
            let markdown = events::report(&results);
            (format!("events-{emulator}"), results, markdown)
        }
        "waits" => {
            let waits = waits::waits(
                world,
                plan.waits_deploys,
                plan.waits_hold,
                plan.waits_reach_limit,
            )
            .await?;
            let when = now();
            let markdown = format!(
                "Run {when} ({plan_name} plan, on {emulator}), concurrent deploys only.\n{}",
                waits::report(&waits)
            );
            let results = json!({
                "when": when,
                "plan": plan_name,
                "emulator": emulator,
                "machine": machine(),
                "waits": waits,
            });
            // A run with extra worker flags is a comparison, kept beside.
            let flags: String = std::env::var("CPSF_BENCH_WAITS_ARGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(|w| format!("-{}", w.trim_start_matches('-')))
                .collect();
            (format!("waits-{emulator}{flags}"), results, markdown)
        }
        _ => return Ok(false),
    };
    keep(&name, &results, &markdown)?;
    print!("{markdown}");
    Ok(true)
}
