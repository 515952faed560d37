use clap::Parser;

/// One thread runs everything. cpsf waits on AWS almost all the time; the
/// few synchronous reads it does (zip entries) go to blocking threads. On
/// a multi-threaded runtime the main future (the worker's loops) ran on
/// this thread and every I/O event crossed to a worker thread and back:
/// measured on an idle worker polling once a second, 412 context switches
/// and 26.6 ms of CPU in 30 s; with one thread, 105 and 21.3 ms (issue 31,
/// `perf stat -e task-clock,context-switches -p <pid> -- sleep 30`).
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = cpsf::cli::Cli::parse();
    match cpsf::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
