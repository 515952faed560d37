//! Reading one file from an input artifact: any bytes, never a panic, never
//! more than the limits allow, and the same answer whether the zip is in
//! memory or read in ranges (as the worker reads artifacts from S3).
#![no_main]

use bytes::Bytes;
use cpsf_worker::artifact::read::{Limits, read_file};
use cpsf_worker::artifact::ranged::{Fetch, RangedReader};
use libfuzzer_sys::fuzz_target;
use std::io::Cursor;

struct Slices(Bytes);

impl Fetch for Slices {
    fn fetch(&mut self, start: u64, end: u64) -> std::io::Result<Bytes> {
        Ok(self.0.slice(start as usize..end as usize))
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_archive_bytes: 1 << 20,
        max_entries: 64,
        max_file_bytes: 1 << 16,
        max_total_bytes: 1 << 18,
        max_directory_bytes: 1 << 14,
    };
    let whole = read_file(Cursor::new(data), "deploy.json", &limits);
    if let Ok(file) = &whole {
        assert!(file.len() as u64 <= limits.max_file_bytes);
    }
    let object = Bytes::copy_from_slice(data);
    let tail = object.slice(object.len().saturating_sub(64)..);
    let ranged = RangedReader::new(Slices(object.clone()), object.len() as u64, tail);
    assert_eq!(read_file(ranged, "deploy.json", &limits), whole);
});
