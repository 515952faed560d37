//! The CodePipeline side of the worker: parsing a job, reading its input,
//! deciding what to report, and reporting it.

pub mod artifact;
pub mod config;
pub mod data;
pub mod decide;
pub mod discover;
pub mod floor;
pub mod handle;
pub mod input;
pub mod journal;
pub mod limits;
pub mod outputs;
pub mod pacing;
pub mod poller;
pub mod ranged;
pub mod recover;
pub mod report;
pub mod s3;
pub mod s3_ranges;
pub mod zip_end;
