//! The CodePipeline side of the worker: parsing a job, reading its input,
//! deciding what to report, and reporting it.

pub mod config;
pub mod data;
pub mod decide;
pub mod discover;
pub mod handle;
pub mod input;
pub mod journal;
pub mod limits;
pub mod outputs;
pub mod pacing;
pub mod poller;
pub mod recover;
pub mod report;
