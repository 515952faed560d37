//! Integration tests of the local playground, driven only through the AWS
//! SDK. One test binary (several modules) keeps link time down.

mod action_types;
mod bad_deploys;
mod bad_input;
mod bootstrap;
mod concurrency;
mod crash;
mod crash_defaults;
mod demo;
mod deploy;
mod deploy_harness;
mod deploy_process;
mod emulator_facts;
mod events;
mod faults;
mod figures;
mod first_errors;
mod harness;
mod healthcheck;
mod history;
mod iam;
mod jobs;
mod limits;
mod local_up;
mod long_waits;
mod memory;
mod pipelines;
mod replay;
mod scale;
mod slots;
mod start_failures;
mod timeouts;
mod transforms;
mod worker;
mod worker_harness;
mod worker_process;
