//! cpsf: a CodePipeline custom "Deploy" action served by a long-running
//! worker that hands the work to an AWS Step Functions state machine.
//!
//! # Components and where they live
//!
//! - [`cli`] (`src/cli.rs`): the command line; parses and dispatches to one
//!   command. `src/main.rs` only calls it.
//! - [`shutdown`] (`src/shutdown.rs`): SIGINT/SIGTERM handling shared by the
//!   long-running commands.
//! - [`local`] (`src/local/`): the local playground that needs no AWS
//!   account.
//!   - `local/fakecloud.rs`: fakecloud (S3, Step Functions, CloudFormation,
//!     IAM, STS) as a child process on a free loopback port; it dies with
//!     cpsf.
//!   - `local/codepipeline/`: cpsf's own CodePipeline service (AWS JSON 1.1),
//!     because no emulator implements the job-worker API. Its state is pure
//!     data behind one lock (`store.rs` and one file per API area); the HTTP
//!     front and the S3 copy of source actions are in `server.rs`.
//!   - `local/playground.rs`: starts both and hands out a [`local::LocalEnv`]
//!     (`local/env.rs`), the standard `AWS_ENDPOINT_URL*` variables that point
//!     any AWS SDK or the AWS CLI at the playground.
//!   - `local/probe.rs`: waits until an endpoint answers HTTP.
//!
//! The worker, the deploy state machine's task handlers, history, replay and
//! the demo come next; each gets its own module here.

pub mod aws;
pub mod cli;
pub mod health;
pub mod job;
pub mod local;
pub mod logging;
pub mod metrics;
pub mod sfn;
pub mod shutdown;
pub mod worker;
