//! The full run's markdown report (bench/results/results.md): the tables,
//! then each target of the performance issue met or missed. The targets
//! are reported, never asserted.

use crate::latency::{ClassResult, pooled};
use crate::stats::percentiles;
use crate::waits;
use serde_json::Value;

pub fn ms(seconds: f64) -> String {
    format!("{:.0} ms", seconds * 1000.0)
}

pub fn class_name(seconds: f64) -> String {
    if seconds >= 60.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}

/// The markdown report: the tables, then each target met or missed.
pub fn report(results: &Value, classes: &[ClassResult]) -> String {
    let mut out = format!(
        "Run {} ({} plan, on {}, {} CPUs), {:.0} s.\n\n",
        results["when"].as_str().unwrap_or_default(),
        results["plan"].as_str().unwrap_or_default(),
        results["emulator"].as_str().unwrap_or("fakecloud"),
        results["machine"]["cpus"],
        results["seconds"].as_f64().unwrap_or_default()
    );
    out += "| execution | worker | jobs | pickup p50 / p90 / p99 | completion p50 / p90 / p99 | AWS calls per job | state transitions | CPU per job |\n|---|---|---|---|---|---|---|---|\n";
    for c in classes {
        out += &format!(
            "| {} | {} | {} | {} / {} / {} | {} / {} / {} | {:.1} | {:.0} | {:.2} ms |\n",
            class_name(c.seconds),
            if c.baseline {
                "baseline: 30 s poll, 10 s Wait loop"
            } else {
                "cpsf"
            },
            c.jobs,
            ms(c.pickup.p50),
            ms(c.pickup.p90),
            ms(c.pickup.p99),
            ms(c.completion.p50),
            ms(c.completion.p90),
            ms(c.completion.p99),
            c.calls_per_job,
            c.transitions.max,
            c.cpu_ms_per_job
        );
    }
    out += "\nRatios, baseline ÷ cpsf:\n\n| execution | pickup p50 | completion p50 | AWS calls per job | state transitions |\n|---|---|---|---|---|\n";
    for pair in classes.chunks(2) {
        let (ours, base) = (&pair[0], &pair[1]);
        let ratio = |b: f64, o: f64| {
            if o > 0.0 {
                format!("{:.1}×", b / o)
            } else {
                "—".into()
            }
        };
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            class_name(ours.seconds),
            ratio(base.pickup.p50, ours.pickup.p50),
            ratio(base.completion.p50, ours.completion.p50),
            ratio(base.calls_per_job, ours.calls_per_job),
            ratio(base.transitions.max, ours.transitions.max)
        );
    }
    out += "\nAWS calls per job by operation (cpsf):\n\n| execution | calls |\n|---|---|\n";
    for c in classes.iter().filter(|c| !c.baseline) {
        let ops: Vec<String> = c
            .calls_by_operation
            .iter()
            .filter(|(_, n)| **n >= 0.05)
            .map(|(op, n)| format!("{op} {n:.1}"))
            .collect();
        out += &format!("| {} | {} |\n", class_name(c.seconds), ops.join(", "));
    }
    let f = &results["footprint"];
    out += &format!(
        "\nFootprint: idle {:.1} MB RSS, {:.2} PollForJobs calls/s, {:.2} ms CPU/s; {:.1} MB with ≥100 jobs in flight; {:.1} MB at the peak of {:.0} in flight ({} jobs); {:.2} ms CPU per job.\n",
        f["idle_rss_mb"].as_f64().unwrap_or_default(),
        f["idle_polls_per_second"].as_f64().unwrap_or_default(),
        f["idle_cpu_ms_per_second"].as_f64().unwrap_or_default(),
        f["rss_mb_at_100"].as_f64().unwrap_or_default(),
        f["rss_mb_at_peak"].as_f64().unwrap_or_default(),
        f["peak_in_flight"].as_f64().unwrap_or_default(),
        f["jobs"],
        f["cpu_ms_per_job"].as_f64().unwrap_or_default()
    );
    let a = &results["large_artifacts"];
    out += &format!(
        "\nLarge artifacts: {} FilePath jobs at once, each reading its input file out of a {:.0} MB zip: worker peak RSS {:.1} MB (at its start {:.1} MB), {} succeeded, {:.1} s.\n",
        a["jobs"],
        a["artifact_mb"].as_f64().unwrap_or_default(),
        a["peak_rss_mb"].as_f64().unwrap_or_default(),
        a["started_rss_mb"].as_f64().unwrap_or_default(),
        a["succeeded"],
        a["seconds"].as_f64().unwrap_or_default()
    );
    out += "\nThroughput (executions that end at once):\n\n| max in flight | jobs | jobs/s | worker | emulator | local CodePipeline + bench |\n|---|---|---|---|---|---|\n";
    for level in results["throughput"].as_array().into_iter().flatten() {
        let share = |k: &str| {
            format!(
                "{:.0}% of a core",
                level["core_share"][k].as_f64().unwrap_or_default() * 100.0
            )
        };
        out += &format!(
            "| {} | {} | {:.1} | {} | {} | {} |\n",
            level["max_in_flight"],
            level["jobs"],
            level["jobs_per_second"].as_f64().unwrap_or_default(),
            share("worker"),
            share("emulator"),
            share("local_codepipeline_and_bench")
        );
    }
    out += &waits::report(&results["waits"]);
    out += &targets(results, classes);
    out
}

/// Each target of the performance issue, met or not, with the figure.
fn targets(results: &Value, classes: &[ClassResult]) -> String {
    let ours: Vec<&ClassResult> = classes.iter().filter(|c| !c.baseline).collect();
    let pickup = percentiles(&pooled(classes, false, |c| &c.pickup_samples));
    let completion = percentiles(&pooled(classes, false, |c| &c.completion_samples));
    let f = &results["footprint"];
    let w = &results["waits"];
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let transitions: Vec<f64> = ours.iter().map(|c| c.transitions.max).collect();
    let constant = transitions.windows(2).all(|w| w[0] == w[1]);
    // Logarithmic: 5 calls per doubling of the duration. Checking at a
    // fixed pace (every 2 s, say) would be linear and far above it.
    let calls_ok = ours
        .iter()
        .all(|c| c.calls_per_job <= 8.0 + 5.0 * (1.0 + c.seconds).log2());
    let cpu_per_job = num(&f["cpu_ms_per_job"]);
    let rows = [
        ("pickup p50 ≤ 0.5 s", pickup.p50 <= 0.5, ms(pickup.p50)),
        ("pickup p99 ≤ 2 s", pickup.p99 <= 2.0, ms(pickup.p99)),
        (
            "idle worker ≤ 1 PollForJobs/s",
            num(&f["idle_polls_per_second"]) <= 1.0,
            format!("{:.2}/s", num(&f["idle_polls_per_second"])),
        ),
        (
            "completion p50 ≤ 1 s",
            completion.p50 <= 1.0,
            ms(completion.p50),
        ),
        (
            "state transitions constant, ≤ 12",
            constant && transitions.iter().all(|t| *t <= 12.0),
            format!("{transitions:?}"),
        ),
        (
            "AWS calls per job ≤ 8 + 5·log2(1 + seconds)",
            calls_ok,
            ours.iter()
                .map(|c| format!("{}: {:.1}", class_name(c.seconds), c.calls_per_job))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            "RSS ≤ 20 MB idle",
            num(&f["idle_rss_mb"]) <= 20.0,
            format!("{:.1} MB", num(&f["idle_rss_mb"])),
        ),
        (
            "RSS ≤ 64 MB with 1,000 in flight",
            num(&f["peak_in_flight"]) >= 1000.0 && num(&f["rss_mb_at_peak"]) <= 64.0,
            format!(
                "{:.1} MB at {:.0} in flight",
                num(&f["rss_mb_at_peak"]),
                num(&f["peak_in_flight"])
            ),
        ),
        (
            "every one of 100 concurrent long deploys reaches WaitForStack and succeeds",
            num(&w["deploys"]) >= 100.0
                && num(&w["reached_wait"]) >= num(&w["deploys"])
                && num(&w["succeeded"]) >= num(&w["deploys"]),
            format!(
                "{:.0} reached, {:.0} succeeded of {:.0}",
                num(&w["reached_wait"]),
                num(&w["succeeded"]),
                num(&w["deploys"])
            ),
        ),
        (
            "RSS ≤ 64 MB with 100 deploys waiting",
            num(&w["peak_rss_mb"]) <= 64.0,
            format!("{:.1} MB", num(&w["peak_rss_mb"])),
        ),
        (
            "RSS ≤ 100 MB while 4 jobs read input files from 200 MB artifacts",
            num(&results["large_artifacts"]["peak_rss_mb"]) <= 100.0
                && results["large_artifacts"]["succeeded"] == 4,
            format!(
                "{:.1} MB peak",
                num(&results["large_artifacts"]["peak_rss_mb"])
            ),
        ),
        (
            "CPU ≤ 2 ms per job",
            cpu_per_job <= 2.0,
            format!("{cpu_per_job:.2} ms"),
        ),
    ];
    let mut out = "\nTargets:\n\n| target | met | measured |\n|---|---|---|\n".to_string();
    for (target, met, figure) in rows {
        out += &format!(
            "| {target} | {} | {figure} |\n",
            if met { "yes" } else { "**no**" }
        );
    }
    out
}
