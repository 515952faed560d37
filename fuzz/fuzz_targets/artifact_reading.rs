//! Reading one file from an input artifact: any bytes, never a panic, and
//! never more than the limits allow.
#![no_main]

use cpsf::job::artifact::{Limits, read_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_archive_bytes: 1 << 20,
        max_entries: 64,
        max_file_bytes: 1 << 16,
        max_total_bytes: 1 << 18,
    };
    if let Ok(file) = read_file(data, "deploy.json", &limits) {
        assert!(file.len() as u64 <= limits.max_file_bytes);
    }
});
