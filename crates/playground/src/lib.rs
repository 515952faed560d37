//! The local playground: everything cpsf talks to, on loopback, with no AWS
//! account. An emulator in a separate process serves S3, Step Functions,
//! CloudFormation, IAM and STS: MiniStack by default, or fakecloud
//! ([`emulator`] says when to pick which). [`codepipeline`] is cpsf's own
//! CodePipeline service, because no emulator implements the job-worker API.
//! The worker's crate (`cpsf_worker`) does not depend on this one: the
//! playground stands in for AWS, it is not part of what runs on AWS.
//!
//! # Layers
//!
//! Imports go one way, as in the worker's crate; the workspace's
//! `tests/layering.rs` holds the code to this list.
//!
//! 1. ground: `names` `child` `events_queue` `approvals` `preset` `codepipeline`
//! 2. roles: `worker_role`
//! 3. setting: `env` `state_data`
//! 4. emulators: `fakecloud` `ministack` `emulator`
//! 5. whole: `proxy` (its checks read the AWS models from MiniStack's venv) `playground`
//!
//! # Components and where they live
//!
//! - `emulator.rs`: which AWS emulator (S3, Step Functions, CloudFormation,
//!   IAM, STS) serves the playground: `ministack.rs` (the default) or
//!   `fakecloud.rs`, each a child process on a free loopback port
//!   (`child.rs`) that dies with cpsf.
//! - `codepipeline/`: cpsf's own CodePipeline service (AWS JSON 1.1). Its
//!   state is pure data behind one lock (`store.rs` and one file per API
//!   area; `variables.rs` resolves CodePipeline's `#{…}` variables); the
//!   HTTP front and the S3 copy of source actions are in `server.rs`.
//! - `playground.rs`: starts both and hands out a [`LocalEnv`] (`env.rs`),
//!   the standard `AWS_ENDPOINT_URL*` variables that point any AWS SDK or
//!   the AWS CLI at the playground, and the AWS config files with the
//!   profile `cpsf-worker`.
//! - `worker_role.rs`: on MiniStack, which evaluates IAM (`AUTH=true`),
//!   bootstrap/cpsf.yaml's worker role cut out of the template and
//!   installed, so the worker runs with the template's grants only (and
//!   bootstrap/target-account.yaml in the rollout account).
//! - `proxy/`: a loopback proxy in front of the playground that counts
//!   calls by operation and fails a share of them (throttling, 5xx,
//!   dropped connections, slow answers); the crash tests kill a worker from
//!   its hook at a chosen call. `cpsf local up --fault-rate` uses it. As
//!   the playground's relay it checks every call (`proxy/checks/`) against
//!   the AWS API model of its operation (botocore's, from MiniStack's venv)
//!   and refuses what AWS would refuse, with AWS's words; `state_data.rs`
//!   finds state data over Step Functions' 256 KiB in execution histories
//!   (the tests' harness fails on both).
//! - `events_queue.rs` (the execution events queue and its rule), `approvals.rs`
//!   (the approvals queue and store), `names.rs` (the playground's account,
//!   region and names), `preset.rs` (the worker settings the demo
//!   and the tests run with).

pub mod approvals;
pub mod child;
pub mod codepipeline;
pub mod emulator;
pub mod env;
pub mod events_queue;
pub mod fakecloud;
pub mod ministack;
pub mod names;
pub mod playground;
pub mod preset;
pub mod proxy;
pub mod state_data;
pub mod worker_role;

pub use emulator::Emulator;
pub use env::LocalEnv;
pub use playground::{Playground, PlaygroundOptions};
