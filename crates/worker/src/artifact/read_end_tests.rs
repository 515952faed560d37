//! Issue 27: an artifact listing too many entries, or too large a central
//! directory, is refused from its last bytes, before the zip crate parses
//! (and holds) its directory. Each test counts the bytes read.

use super::tests::zip_of;
use super::*;
use crate::artifact::zip_end::WINDOW;
use crate::artifact::zip_end::tests::{eocd, zip64_end};
use std::io::{Cursor, Write};
use std::sync::LazyLock;

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(to)
    }
}

/// `read_file` over `zip`, and how many bytes it read.
fn read_counted(zip: &[u8], limits: &Limits) -> (Result<Vec<u8>, ArtifactError>, u64) {
    let mut reader = Counted {
        inner: Cursor::new(zip),
        read: 0,
    };
    let result = read_file(&mut reader, "deploy.json", limits);
    (result, reader.read)
}

/// A central directory listing `entries` empty stored files (APPNOTE
/// 4.3.12), written by hand: the zip crate's writer takes seconds for
/// hundreds of thousands. The zip crate reads a directory without the
/// local headers, and none of these tests gets further.
fn directory(entries: usize) -> Vec<u8> {
    let mut cd = Vec::with_capacity(entries * 54);
    for i in 0..entries {
        let name = format!("e{i:07}");
        cd.extend(0x0201_4b50u32.to_le_bytes());
        cd.extend(20u16.to_le_bytes()); // version made by
        cd.extend(20u16.to_le_bytes()); // version needed
        cd.extend([0u8; 16]); // flags, method (stored), time, date, crc-32, compressed size
        cd.extend([0u8; 4]); // uncompressed size
        cd.extend((name.len() as u16).to_le_bytes());
        cd.extend([0u8; 16]); // extra, comment, disk, internal and external attributes, offset
        cd.extend(name.as_bytes());
    }
    cd
}

/// A zip of `entries` listed files whose end records are the Zip64 ones
/// (more than 65,535 entries), with `comment`.
fn zip64_listing(entries: usize, comment: &[u8]) -> Vec<u8> {
    let mut zip = directory(entries);
    let size = zip.len() as u64;
    zip.extend(zip64_end(entries as u64, size, 0, size));
    zip.extend(eocd(0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, comment));
    zip
}

/// A zip of `entries` (at most 65,535) listed files with 32-bit end
/// records.
fn zip32_listing(entries: u16, comment: &[u8]) -> Vec<u8> {
    let mut zip = directory(entries.into());
    let size = zip.len() as u32;
    zip.extend(eocd(entries, size, 0, comment));
    zip
}

/// The artifact: 400,000 entries (21 MB of directory here).
static LISTING_400K: LazyLock<Vec<u8>> = LazyLock::new(|| zip64_listing(400_000, b""));

#[test]
fn a_32_bit_end_record_over_the_entry_limit_is_refused_from_the_tail() {
    let zip = zip32_listing(20_000, b"");
    let (result, read) = read_counted(&zip, &Limits::default());
    assert_eq!(
        result,
        Err(ArtifactError::TooManyEntries {
            count: 20_000,
            max: 10_000
        })
    );
    assert!(read <= WINDOW as u64, "{read} bytes read of {}", zip.len());
}

#[test]
fn a_zip64_end_record_over_the_entry_limit_is_refused_from_the_tail() {
    let (result, read) = read_counted(&LISTING_400K, &Limits::default());
    assert_eq!(
        result,
        Err(ArtifactError::TooManyEntries {
            count: 400_000,
            max: 10_000
        })
    );
    assert!(read <= WINDOW as u64, "{read} bytes read");
    assert_eq!(
        result.unwrap_err().to_string(),
        "the input artifact has 400000 entries; at most 10000 are read"
    );
}

/// The records alone, claiming 2.5 million entries (the 135 MB
/// artifact) without listing them: refused on the claim.
#[test]
fn a_crafted_zip64_claim_is_refused_without_the_entries() {
    let mut zip = vec![0u8; 4096];
    zip.extend(zip64_end(2_500_000, 135_000_000, 0, 4096));
    zip.extend(eocd(0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, b""));
    let (result, _) = read_counted(&zip, &Limits::default());
    assert_eq!(
        result,
        Err(ArtifactError::TooManyEntries {
            count: 2_500_000,
            max: 10_000
        })
    );
}

#[test]
fn a_central_directory_over_the_size_limit_is_refused_from_the_tail() {
    // Few entries with long names: 3,000 × (46 + 1,400) bytes.
    let long = "n".repeat(1400);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..3000 {
        writer.start_file(format!("{long}{i}"), stored).unwrap();
    }
    let zip = writer.finish().unwrap().into_inner();
    let (result, read) = read_counted(&zip, &Limits::default());
    let Err(ArtifactError::DirectoryTooLarge { size, max }) = result else {
        panic!("{result:?}");
    };
    assert!(size > 4_300_000, "{size}");
    assert_eq!(max, 4 * 1024 * 1024);
    assert!(read <= WINDOW as u64, "{read} bytes read");
    // A claim alone is refused the same way.
    let mut zip = vec![0u8; 100];
    zip.extend(eocd(3, 5_000_000, 0, b""));
    assert_eq!(
        read_counted(&zip, &Limits::default()).0,
        Err(ArtifactError::DirectoryTooLarge {
            size: 5_000_000,
            max: 4 * 1024 * 1024
        })
    );
}

/// A comment of the longest size puts the end record 65,557 bytes from
/// the end, still within what is read first.
#[test]
fn a_comment_after_the_end_record_does_not_hide_it() {
    let comment = vec![b'c'; u16::MAX as usize];
    let zip = zip32_listing(20_000, &comment);
    let (result, read) = read_counted(&zip, &Limits::default());
    assert_eq!(
        result,
        Err(ArtifactError::TooManyEntries {
            count: 20_000,
            max: 10_000
        })
    );
    assert!(read <= WINDOW as u64, "{read} bytes read");
    let zip = zip64_listing(70_000, &comment);
    let (result, read) = read_counted(&zip, &Limits::default());
    assert_eq!(
        result,
        Err(ArtifactError::TooManyEntries {
            count: 70_000,
            max: 10_000
        })
    );
    assert!(read <= WINDOW as u64, "{read} bytes read");
    // And a zip with a comment is read as before.
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer.set_comment("built by ci ".repeat(5000)).unwrap();
    writer
        .start_file("deploy.json", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(b"{}").unwrap();
    let zip = writer.finish().unwrap().into_inner();
    assert_eq!(read_counted(&zip, &Limits::default()).0.unwrap(), b"{}");
}

/// A zip after other bytes (a self-extracting archive's stub): its
/// offsets are off by the stub's length, its counts are not.
#[test]
fn data_before_the_zip_does_not_change_the_counts() {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let large = zip::write::SimpleFileOptions::default().large_file(true);
    writer.start_file("README.md", large).unwrap();
    writer.start_file("deploy.json", large).unwrap();
    writer.write_all(b"{}").unwrap();
    let zip64 = writer.finish().unwrap().into_inner();
    let zip32 = zip_of(&[("README.md", b""), ("deploy.json", b"{}")]);
    for zip in [zip32, zip64] {
        let mut prefixed = vec![0x7f; 70_000];
        prefixed.extend(&zip);
        assert_eq!(
            read_counted(&prefixed, &Limits::default()).0.unwrap(),
            b"{}"
        );
        let one = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        assert_eq!(
            read_counted(&prefixed, &one).0,
            Err(ArtifactError::TooManyEntries { count: 2, max: 1 })
        );
    }
}

/// A decoy end record after the real one (22 bytes whose directory
/// offset is past the record, which the zip crate skips to try the one
/// before it): the zip crate may read no further back than the limit
/// allows, so the 400,000 entries are never held.
#[test]
fn a_decoy_end_record_does_not_open_the_directory() {
    let mut zip = LISTING_400K.clone();
    let at = zip.len() as u32;
    zip.extend(eocd(1, 46, at + 1, b""));
    let limits = Limits::default();
    let (result, read) = read_counted(&zip, &limits);
    let window = limits.max_directory_bytes + WINDOW as u64;
    assert_eq!(
        result,
        Err(ArtifactError::DirectoryOutOfReach {
            window,
            max: limits.max_directory_bytes
        })
    );
    assert!(read <= window + WINDOW as u64, "{read} bytes read");
}
