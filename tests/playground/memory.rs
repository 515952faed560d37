//! A worker whose memory is capped well below one artifact reads its input
//! file out of two 200 MB artifacts at once and answers both jobs: the
//! artifact is read in ranges, never held whole (issue 15). Buffering it,
//! the worker died before acknowledging, the job was handed out again and
//! killed the next worker.

use crate::harness::*;
use std::io::{Cursor, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

const ARTIFACT_BYTES: usize = 200 << 20;

/// The worker's data limit (RLIMIT_DATA: heap and private writable
/// mappings). A hard limit, not a measurement: under it one buffered
/// 200 MB artifact is an allocation failure, which aborts the process,
/// while the worker's own needs (runtime, threads, a few blocks per read)
/// fit with room to spare.
const DATA_LIMIT: u64 = 160 << 20;

/// A zip of a small `app/deploy.json` and 200 MB of pseudo-random bytes
/// (xorshift64*: incompressible, and fast in a debug build) stored
/// uncompressed, so the zip is as large as the data.
fn large_artifact() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(ARTIFACT_BYTES + 4096)));
    let options = zip::write::SimpleFileOptions::default();
    writer.start_file("app/deploy.json", options).unwrap();
    writer.write_all(br#"{"stackName": "big"}"#).unwrap();
    let stored = options.compression_method(zip::CompressionMethod::Stored);
    writer.start_file("app/assets.bin", stored).unwrap();
    let mut state: u64 = rand::random::<u64>() | 1;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..ARTIFACT_BYTES / chunk.len() {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            word.copy_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        writer.write_all(&chunk).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_capped_below_one_artifact_reads_input_files_out_of_two_200_mb_artifacts() {
    let h = Harness::start().await;
    h.create_worker_type().await;
    let machine = h.create_slow_machine("ok", 0).await;
    let zip = large_artifact();
    assert!(zip.len() >= ARTIFACT_BYTES, "{} bytes", zip.len());
    // One source object; each pipeline's source action copies it into an
    // artifact of its own.
    h.s3.put_object()
        .bucket(SOURCE_BUCKET)
        .key("large.zip")
        .body(zip.into())
        .send()
        .await
        .expect("put the large artifact");
    let pipelines = ["large-a", "large-b"];
    for name in pipelines {
        h.create_worker_pipeline_from(
            name,
            "large.zip",
            &[
                ("StateMachineArn", &machine),
                ("InputType", "FilePath"),
                ("Input", "app/deploy.json"),
            ],
        )
        .await;
    }

    let log = std::env::temp_dir().join(format!("cpsf-memory-{}.log", std::process::id()));
    let mut command = cpsf_worker(&h.env);
    command
        .args(["--jobs-only", "--poll-max", &poll_max_flag()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    // SAFETY: setrlimit(2) is async-signal-safe; nothing else runs
    // between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: DATA_LIMIT,
                rlim_max: DATA_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut worker = KillOnDrop(command.spawn().expect("start cpsf worker"));
    let mut ids = Vec::new();
    for name in pipelines {
        ids.push(h.start_execution(name).await);
    }

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(status) = worker.0.try_wait().unwrap() {
            let logs = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the worker died ({status}) reading the artifacts:\n{logs}");
        }
        let mut statuses = Vec::new();
        for (name, id) in pipelines.iter().zip(&ids) {
            statuses.push(h.execution_status(name, id).await.as_str().to_string());
        }
        if statuses.iter().all(|s| s != "InProgress") {
            assert_eq!(statuses, ["Succeeded", "Succeeded"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs were not answered: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", worker.0.id())).unwrap();
    let peak: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("VmData") || l.starts_with("VmHWM"))
        .collect();
    eprintln!(
        "worker under a {} MiB data limit: {peak:?}",
        DATA_LIMIT >> 20
    );
    let _ = std::fs::remove_file(&log);
}
