//! What a zip's end records say about its central directory (how many
//! entries, how many bytes), read from the zip's last bytes alone, so an
//! artifact that lists too many entries is refused before the `zip` crate
//! parses its directory (which it holds whole in memory, an entry at a
//! time, before anyone can count them: issue 27). Pure: bytes in, figures
//! out.
//!
//! The records, from PKWARE's APPNOTE.TXT (6.3.10):
//! - 4.3.16, end of central directory record: the last record of a zip,
//!   22 bytes and a comment of up to 65,535;
//! - 4.3.15, Zip64 end of central directory locator: the 20 bytes just
//!   before it, present when a field of the 32-bit record is too small
//!   ("set to -1 (0xFFFF or 0xFFFFFFFF)", 4.4.1.4);
//! - 4.3.14, Zip64 end of central directory record: 56 bytes and an
//!   extensible data sector, where the locator says (4.3.6 puts it just
//!   before the locator).

/// How many of the zip's last bytes [`find`] looks at: the end of central
/// directory record with the longest comment (22 + 65,535), the Zip64
/// locator (20) and record (56), and room for a small extensible data
/// sector. Within the tail the S3 edge fetches first
/// (`s3_ranges::TAIL`), so reading it costs no request.
pub const WINDOW: usize = 128 * 1024;

const EOCD: u32 = 0x0605_4b50;
const EOCD_LEN: usize = 22;
const LOCATOR: u32 = 0x0706_4b50;
const LOCATOR_LEN: usize = 20;
const ZIP64_EOCD: u32 = 0x0606_4b50;
const ZIP64_EOCD_LEN: usize = 56;

/// What the end records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryEnd {
    /// Entries in the central directory.
    pub entries: u64,
    /// Bytes of the central directory.
    pub directory_size: u64,
}

/// The end records of a zip of `archive_len` bytes whose last bytes are
/// `tail` (all of it, or at least its last [`WINDOW`] bytes). An error
/// says why it is not a zip.
pub fn find(tail: &[u8], archive_len: u64) -> Result<DirectoryEnd, String> {
    let base = archive_len.saturating_sub(tail.len() as u64);
    let at = last_eocd(tail).ok_or("it has no end of central directory record")?;
    let eocd = &tail[at..];
    let on_this_disk = le16(eocd, 8);
    let entries = le16(eocd, 10);
    let directory_size = le32(eocd, 12);
    let directory_offset = le32(eocd, 16);
    let saturated =
        entries == 0xFFFF || directory_size == 0xFFFF_FFFF || directory_offset == 0xFFFF_FFFF;
    let zip32 = DirectoryEnd {
        entries: u64::from(entries.max(on_this_disk)),
        directory_size: u64::from(directory_size),
    };
    if !saturated {
        return Ok(zip32);
    }
    // A saturated field with no locator before the record is taken as it
    // is, as the zip crate does: 65,535 entries, or 4 GiB of directory.
    let Some(locator) = at
        .checked_sub(LOCATOR_LEN)
        .filter(|&l| le32(tail, l) == LOCATOR)
    else {
        return Ok(zip32);
    };
    let stated = le64(tail, locator + 8);
    let record = zip64_record(tail, locator, stated.checked_sub(base)).ok_or(
        "its Zip64 end of central directory locator points to no Zip64 end of central \
         directory record",
    )?;
    let z = &tail[record..];
    Ok(DirectoryEnd {
        entries: le64(z, 32).max(le64(z, 24)),
        directory_size: le64(z, 40),
    })
}

/// The offset in `tail` of the last end of central directory record: the
/// last signature whose comment ends within the zip (APPNOTE 4.3.16: the
/// comment is the last field). Searched backwards over 22 + 65,535 bytes,
/// as a comment may be that long.
fn last_eocd(tail: &[u8]) -> Option<usize> {
    let last = tail.len().checked_sub(EOCD_LEN)?;
    let first = last.saturating_sub(u16::MAX as usize);
    (first..=last).rev().find(|&at| {
        le32(tail, at) == EOCD && at + EOCD_LEN + le16(tail, at + 20) as usize <= tail.len()
    })
}

/// The offset in `tail` of the Zip64 end of central directory record that
/// ends at the locator at `locator`: where the locator says (`stated`, an
/// offset in `tail` if it lies there), else the last signature before the
/// locator whose record ends at it, as in a zip with data before its
/// start (whose offsets are all off by that much).
fn zip64_record(tail: &[u8], locator: usize, stated: Option<u64>) -> Option<usize> {
    // APPNOTE 4.3.14.1: "Size of zip64 end of central directory record"
    // counts the bytes after its first 12.
    let ends_at_locator = |at: usize| {
        le32(tail, at) == ZIP64_EOCD
            && (at as u64 + 12).checked_add(le64(tail, at + 4)) == Some(locator as u64)
    };
    let last = locator.checked_sub(ZIP64_EOCD_LEN)?;
    let stated = stated.and_then(|s| usize::try_from(s).ok());
    stated
        .filter(|&at| at <= last && ends_at_locator(at))
        .or_else(|| (0..=last).rev().find(|&at| ends_at_locator(at)))
}

fn le16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An end of central directory record (APPNOTE 4.3.16) and its comment.
    pub fn eocd(entries: u16, size: u32, offset: u32, comment: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(EOCD.to_le_bytes());
        r.extend([0u8; 4]); // this disk, the directory's disk
        r.extend(entries.to_le_bytes()); // on this disk
        r.extend(entries.to_le_bytes()); // in all
        r.extend(size.to_le_bytes());
        r.extend(offset.to_le_bytes());
        r.extend((comment.len() as u16).to_le_bytes());
        r.extend(comment);
        r
    }

    /// A Zip64 end of central directory record (APPNOTE 4.3.14) with no
    /// extensible data, and its locator (4.3.15) naming it at `at`.
    pub fn zip64_end(entries: u64, size: u64, offset: u64, at: u64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend(ZIP64_EOCD.to_le_bytes());
        r.extend(((ZIP64_EOCD_LEN - 12) as u64).to_le_bytes());
        r.extend(45u16.to_le_bytes()); // version made by
        r.extend(45u16.to_le_bytes()); // version needed
        r.extend([0u8; 8]); // this disk, the directory's disk
        r.extend(entries.to_le_bytes()); // on this disk
        r.extend(entries.to_le_bytes()); // in all
        r.extend(size.to_le_bytes());
        r.extend(offset.to_le_bytes());
        r.extend(LOCATOR.to_le_bytes());
        r.extend(0u32.to_le_bytes()); // the record's disk
        r.extend(at.to_le_bytes());
        r.extend(1u32.to_le_bytes()); // disks
        r
    }

    fn end(entries: u64, directory_size: u64) -> Result<DirectoryEnd, String> {
        Ok(DirectoryEnd {
            entries,
            directory_size,
        })
    }

    #[test]
    fn the_32_bit_record_is_read_with_or_without_a_comment() {
        let mut zip = vec![0xa5; 1000];
        zip.extend(eocd(7, 300, 700, b""));
        assert_eq!(find(&zip, zip.len() as u64), end(7, 300));
        // A comment holding a signature whose comment would end past the
        // zip: not the record.
        let mut comment = eocd(9, 9, 9, b"");
        comment[20..22].copy_from_slice(&u16::MAX.to_le_bytes());
        comment.extend([b'c'; 65_535 - 22]);
        let mut zip = vec![0xa5; 1000];
        zip.extend(eocd(7, 300, 700, &comment));
        assert_eq!(find(&zip, zip.len() as u64), end(7, 300));
        // Only the last bytes known: offsets do not matter.
        let tail = &zip[zip.len() - WINDOW.min(zip.len())..];
        assert_eq!(find(tail, 10_000_000), end(7, 300));
    }

    #[test]
    fn a_saturated_record_is_read_through_the_zip64_records() {
        let mut zip = vec![0xa5; 1000];
        zip.extend(zip64_end(2_500_000, 135_000_000, 700, 1000));
        zip.extend(eocd(0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, b"a comment"));
        assert_eq!(find(&zip, zip.len() as u64), end(2_500_000, 135_000_000));
        // Data before the zip: the locator's offset is off by its length.
        let mut prefixed = vec![0x11; 5000];
        prefixed.extend(&zip);
        assert_eq!(
            find(&prefixed, prefixed.len() as u64),
            end(2_500_000, 135_000_000)
        );
        // The tail of a larger object.
        let mut tail = vec![0xa5; 1000];
        tail.extend(zip64_end(2_500_000, 135_000_000, 700, 50_000_000 + 1000));
        tail.extend(eocd(0xFFFF, 0, 0, b""));
        assert_eq!(
            find(&tail, 50_000_000 + tail.len() as u64),
            end(2_500_000, 135_000_000)
        );
    }

    #[test]
    fn a_saturated_record_without_a_locator_is_taken_as_it_is() {
        let mut zip = vec![0xa5; 1000];
        zip.extend(eocd(0xFFFF, 3_000_000, 700, b""));
        assert_eq!(find(&zip, zip.len() as u64), end(0xFFFF, 3_000_000));
    }

    #[test]
    fn garbage_and_a_locator_pointing_nowhere_are_not_zips() {
        assert!(find(b"", 0).is_err());
        assert!(find(b"not a zip at all, not even close", 33).is_err());
        assert!(find(&[0u8; 21], 21).is_err());
        let mut zip = vec![0xa5; 1000];
        let mut records = zip64_end(5, 5, 5, 1000);
        records[..4].copy_from_slice(b"XXXX");
        zip.extend(records);
        zip.extend(eocd(0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF, b""));
        let err = find(&zip, zip.len() as u64).unwrap_err();
        assert!(err.contains("points to no Zip64"), "{err}");
    }
}
