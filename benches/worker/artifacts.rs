//! Large artifacts: a fresh worker answers FilePath jobs whose artifacts
//! are 200 MB zips (a small app/deploy.json and 200 MB of random bytes
//! stored uncompressed), all started at once. Its peak RSS (VmHWM, so no
//! peak falls between samples) is the figure: the worker must read the
//! input file without holding the artifact (issue 15, target ≤ 100 MB).

use crate::stats;
use crate::world::{SOURCE_BUCKET, Worker, World};
use serde_json::{Value, json};
use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

pub const ARTIFACT_BYTES: usize = 200 << 20;
pub const JOBS: usize = 4;
const SOURCE_KEY: &str = "large.zip";

/// The zip: deploy.json, then 200 MB of random bytes, stored.
fn large_artifact() -> anyhow::Result<Vec<u8>> {
    use rand::Rng;
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(ARTIFACT_BYTES + 4096)));
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("app/deploy.json", options)?;
    writer.write_all(br#"{"seconds": 0}"#)?;
    let stored = options.compression_method(zip::CompressionMethod::Stored);
    writer.start_file("app/assets.bin", stored)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut rng = rand::rng();
    for _ in 0..ARTIFACT_BYTES / chunk.len() {
        rng.fill_bytes(&mut chunk);
        writer.write_all(&chunk)?;
    }
    Ok(writer.finish()?.into_inner())
}

pub async fn large_artifacts(world: &World) -> anyhow::Result<Value> {
    let env = world.playground.env();
    let s3 = env.s3_client(&env.sdk_config().await);
    let zip = large_artifact()?;
    let artifact_mb = zip.len() as f64 / 1_048_576.0;
    s3.put_object()
        .bucket(SOURCE_BUCKET)
        .key(SOURCE_KEY)
        .body(zip.into())
        .send()
        .await?;

    let provider = "BenchLarge";
    let action_type = world.action_type(provider).await?;
    let machine = world.blocking_machine("large").await?;
    let mut pipelines = Vec::new();
    for i in 0..JOBS {
        let name = format!("large-{i}");
        let configuration = [
            ("StateMachineArn", machine.as_str()),
            ("InputType", "FilePath"),
            ("Input", "app/deploy.json"),
        ];
        world
            .create_pipeline(&name, SOURCE_KEY, &action_type, &configuration)
            .await?;
        pipelines.push(name);
    }
    // Each source action copies the 200 MB object, one after another; the
    // worker starts once the four jobs are queued, so it reads all four at
    // once.
    for name in &pipelines {
        world.start_pipeline(name).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    while queued(world).await? < JOBS {
        anyhow::ensure!(Instant::now() < deadline, "the large jobs were not queued");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let worker = Worker::start(world, provider, &[]).await?;
    let idle_rss = worker.rss_bytes();
    let t0 = Instant::now();
    let answered = crate::latency::wait_for_answers(world, "large", JOBS, Duration::from_secs(600));
    tokio::pin!(answered);
    let mut samples = Vec::new();
    let finished = loop {
        tokio::select! {
            finished = &mut answered => break finished?,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                samples.push(worker.rss_bytes() as f64 / 1_048_576.0);
            }
        }
    };
    let mut succeeded = 0;
    for name in &pipelines {
        let listed = world
            .cp
            .list_pipeline_executions()
            .pipeline_name(name)
            .send()
            .await?;
        let summaries = listed.pipeline_execution_summaries();
        succeeded += summaries
            .iter()
            .filter(|e| e.status().is_some_and(|s| s.as_str() == "Succeeded"))
            .count();
    }
    Ok(json!({
        "jobs": JOBS,
        "artifact_mb": artifact_mb,
        "started_rss_mb": idle_rss as f64 / 1_048_576.0,
        "peak_rss_mb": stats::peak_rss_bytes(worker.pid()) as f64 / 1_048_576.0,
        "sampled_peak_rss_mb": samples.iter().copied().fold(0.0, f64::max),
        "succeeded": succeeded,
        "answered": finished.pickup.len(),
        "seconds": t0.elapsed().as_secs_f64(),
    }))
}

/// Jobs waiting for a worker (every other part's jobs have ended).
async fn queued(world: &World) -> anyhow::Result<usize> {
    let timings = world.job_timings().await?;
    Ok(timings.iter().filter(|t| t["status"] == "Queued").count())
}
