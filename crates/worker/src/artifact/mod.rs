//! Pipeline artifacts: zips in S3 that a job reads its input from (and a
//! template handler its template), and writes its output to. Below both
//! the job and the task handlers, which share it.
//!
//! - `location.rs`: where an artifact is and the credentials to read it
//!   (kept out of `Debug`).
//! - pure: `read.rs` (one file out of a zip, safely: bounded entries and
//!   sizes, no path traversal), `zip_end.rs` (the end records' entry count
//!   and directory size, checked before the directory is parsed),
//!   `floor.rs` (how far back the zip crate may read while it parses),
//!   `ranged.rs` (a `Read + Seek` over fetched blocks).
//! - edges: `s3.rs` (the artifact store: read with the job's credentials,
//!   write the output artifact), `s3_ranges.rs` (ranged GETs for
//!   `ranged.rs`).

pub mod floor;
pub mod location;
pub mod ranged;
pub mod read;
pub mod s3;
pub mod s3_ranges;
pub mod zip_end;
