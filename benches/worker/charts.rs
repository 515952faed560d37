//! The full run's charts: latency distributions (bench/results/latency)
//! and worker memory against jobs in flight (bench/results/rss).

use crate::latency::{ClassResult, pooled};
use crate::plot;
use crate::report::class_name;
use serde_json::Value;
use std::collections::BTreeMap;

pub fn charts(
    classes: &[ClassResult],
    footprint: &Value,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let colors = [
        "#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#ff7f0e", "#8c564b",
    ];
    let mut series = Vec::new();
    for (i, c) in classes.iter().filter(|c| !c.baseline).enumerate() {
        series.push(plot::Series {
            name: format!("pickup, {}", class_name(c.seconds)),
            color: colors[i % 3],
            points: plot::cdf(&c.pickup_samples),
        });
    }
    let base_pickup = pooled(classes, true, |c| &c.pickup_samples);
    series.push(plot::Series {
        name: "pickup, baseline".into(),
        color: colors[3],
        points: plot::cdf(&base_pickup),
    });
    let ours_completion = pooled(classes, false, |c| &c.completion_samples);
    let base_completion = pooled(classes, true, |c| &c.completion_samples);
    series.push(plot::Series {
        name: "completion, cpsf".into(),
        color: colors[4],
        points: plot::cdf(&ours_completion),
    });
    series.push(plot::Series {
        name: "completion, baseline".into(),
        color: colors[5],
        points: plot::cdf(&base_completion),
    });
    plot::Chart {
        title: "Latency distributions: share of jobs at or under".into(),
        x_label: "seconds (log scale)".into(),
        y_label: "share of jobs".into(),
        log_x: Some((0.01, 100.0)),
        series,
    }
    .write(&dir.join("latency"))?;
    let samples: Vec<(f64, f64)> = footprint["samples"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s[0].as_f64()?, s[1].as_f64()?)))
        .collect();
    let mut by_level: BTreeMap<u64, f64> = BTreeMap::new();
    for (flying, rss) in samples {
        let entry = by_level.entry(flying as u64).or_insert(0.0);
        *entry = entry.max(rss);
    }
    plot::Chart {
        title: "Worker memory against jobs in flight".into(),
        x_label: "jobs in flight".into(),
        y_label: "RSS, MB".into(),
        log_x: None,
        series: vec![plot::Series {
            name: "cpsf worker".into(),
            color: colors[0],
            points: by_level.into_iter().map(|(k, v)| (k as f64, v)).collect(),
        }],
    }
    .write(&dir.join("rss"))?;
    Ok(())
}
