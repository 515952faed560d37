//! Numbers: percentiles, a process's memory and CPU time, and which long
//! polls came back empty.

use std::time::Duration;

/// p50, p90 and p99 (nearest rank) of `values`, in the same unit.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

pub fn percentiles(values: &[f64]) -> Percentiles {
    if values.is_empty() {
        return Percentiles::default();
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank =
        |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    Percentiles {
        count: sorted.len(),
        p50: rank(0.50),
        p90: rank(0.90),
        p99: rank(0.99),
        max: sorted[sorted.len() - 1],
    }
}

/// Resident memory of `pid` in bytes (VmRSS).
pub fn rss_bytes(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

/// The most `pid` has had resident at once (VmHWM): a peak no sampling
/// interval can miss.
pub fn peak_rss_bytes(pid: u32) -> u64 {
    status_kb(pid, "VmHWM:")
}

/// Of which file-backed: the binary's pages (code, read-only data) that
/// have been touched, shared with every process running it.
pub fn rss_file_bytes(pid: u32) -> u64 {
    status_kb(pid, "RssFile:")
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Threads of `pid`.
pub fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time `pid` has used so far, to the nanosecond: the
/// process's CPU-time clock (clock_getcpuclockid(3)), which counts every
/// thread, those that have exited too. /proc's utime and stime come in
/// 10 ms ticks, too coarse for a 2 ms-a-job target over a few jobs; they
/// are the fallback.
pub fn cpu_time(pid: u32) -> Duration {
    let mut clock: libc::clockid_t = 0;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both pointers are to locals that outlive the calls.
    let read = unsafe {
        libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) == 0
            && libc::clock_gettime(clock, &mut now) == 0
    };
    if read {
        Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
    } else {
        cpu_time_in_ticks(pid)
    }
}

fn cpu_time_in_ticks(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / per_second)
}

/// A long poll that came back with nothing (pure): PollForJobs with no
/// job, or ReceiveMessage with no message (SQS's JSON protocol leaves
/// `Messages` out, or empty).
pub fn empty_long_poll(operation: &str, body: &[u8]) -> bool {
    let field = match operation {
        "codepipeline:PollForJobs" => "jobs",
        "sqs:ReceiveMessage" => "Messages",
        _ => return false,
    };
    // An error's body has `__type` (both JSON protocols) and is no poll.
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("__type").is_none() && v[field].as_array().is_none_or(Vec::is_empty))
}
