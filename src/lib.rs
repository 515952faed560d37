//! The `cpsf` command: run a CodePipeline deploy step through AWS Step
//! Functions. `src/main.rs` only calls [`cli`].
//!
//! # Crates
//!
//! The workspace has three crates, and Cargo holds the direction between
//! them: each imports only the ones listed below it.
//!
//! - `cpsf` (this one, the repository's root): the command line ([`cli`])
//!   and, with the default feature `playground`, `cpsf demo` ([`demo`])
//!   and `cpsf local`. The container image builds with
//!   `--no-default-features`, so the playground is not in it.
//! - `cpsf-playground` (`crates/playground`): the local stand-in for AWS:
//!   the emulators as child processes, cpsf's own CodePipeline service,
//!   the checking proxy. It imports the worker's crate for the contracts it
//!   stands in for (the job wire format, the bootstrap template's grants).
//! - `cpsf-worker` (`crates/worker`): everything `cpsf worker` runs on AWS,
//!   and the commands that share its code (history, replay, approve,
//!   environments, bootstrap). It does not depend on the playground.
//!
//! Each crate's `src/lib.rs` is its map and lists its layers; the
//! workspace's `tests/layering.rs` holds every crate to its list.
//!
//! # Layers
//!
//! 1. commands: `demo`
//! 2. front: `cli`
//!
//! # Components and where they live
//!
//! - [`cli`] (`src/cli/`): parses and dispatches to one command
//!   (`worker.rs` and `local.rs` hold the two with most flags; `demo.rs`
//!   the demo's).
//! - [`demo`] (`src/demo/`): `cpsf demo`: `setup.rs` (buckets, action type,
//!   state machine, pipeline), `watch.rs` (live progress), `mod.rs` (four
//!   runs, their checks, the summary), `pipeline.rs` (the demo's pipeline
//!   run by run: source, start, the Deploy action's result), `targets.rs`
//!   (a rollout in waves), `environments.rs` (branch environments),
//!   `approval.rs` (a risky change approved by link), `upstream.rs` (the
//!   stacks whose outputs those read: the targets' layer, the staging site).
//!
//! Tests: `tests/playground/` runs a playground per test on free ports and
//! drives the `cpsf` binary and the worker's code through the AWS SDK, a
//! file per area (`crash.rs`, `faults.rs`, `scale.rs` and the bad-input
//! corpus are the reliability tests); `tests/layering.rs` holds the
//! layers. `benches/worker/` is the benchmark (`cargo bench --bench
//! worker`), `fuzz/` the cargo-fuzz targets over the worker's crate
//! (`scripts/fuzz`).

pub mod cli;
#[cfg(feature = "playground")]
pub mod demo;
