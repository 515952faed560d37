//! Reading one file out of a pipeline artifact (a zip), safely: bounded
//! entry count and sizes, no path traversal, and a reader that stops one
//! byte past the limit whatever the zip claims. The zip is any `Read +
//! Seek`: in production a [`super::ranged::RangedReader`] over S3 ranged
//! GETs, so only the central directory and the one entry are fetched,
//! never the whole artifact.

use super::floor::{Floor, Floored};
use super::zip_end;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// Bounds on what an artifact may make the worker download and inflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of the zip itself (the S3 object).
    pub max_archive_bytes: u64,
    pub max_entries: usize,
    /// Bytes of the central directory (the list of entries), which the zip
    /// crate holds whole while it parses it: 4 MiB lets `max_entries`
    /// entries average ~420 bytes each, room for the 46-byte record, a
    /// 255-byte path and the usual extra fields (Zip64 sizes 28 bytes,
    /// timestamps 9 to 13, Unix ids 11), against ~10,000 × (46 + 255) ≈
    /// 3 MiB for long paths; and `s3::MAX_READS` reads at once hold at
    /// most 32 MiB of directories.
    pub max_directory_bytes: u64,
    /// Uncompressed size of the one file read.
    pub max_file_bytes: u64,
    /// Declared uncompressed size of all entries together.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_archive_bytes: 256 * 1024 * 1024,
            max_entries: 10_000,
            max_directory_bytes: 4 * 1024 * 1024,
            max_file_bytes: 8 * 1024 * 1024,
            max_total_bytes: 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    #[error("the input artifact is empty (0 bytes); the source action produced nothing")]
    Empty,
    #[error("the input artifact is not a zip file: {0}")]
    NotZip(String),
    #[error("the input artifact has {count} entries; at most {max} are read")]
    TooManyEntries { count: u64, max: usize },
    #[error(
        "the input artifact's central directory (its list of entries) is {size} bytes; at most \
         {max} are read"
    )]
    DirectoryTooLarge { size: u64, max: u64 },
    #[error(
        "the input artifact's central directory (its list of entries) does not lie within its \
         last {window} bytes; at most {max} bytes of directory are read"
    )]
    DirectoryOutOfReach { window: u64, max: u64 },
    #[error(
        "the input artifact would inflate to {total} bytes; at most {max} are accepted (zip bomb?)"
    )]
    TooLarge { total: u64, max: u64 },
    #[error(
        "the input artifact holds an unsafe path '{0}' (absolute or with '..'); refusing to read it"
    )]
    UnsafePath(String),
    #[error("'{path}' is not in the input artifact. {listing}")]
    Missing { path: String, listing: String },
    #[error("'{path}' is larger than {max} bytes; the input file must be smaller")]
    FileTooLarge { path: String, max: u64 },
    #[error("could not read '{path}' from the input artifact: {reason}")]
    Corrupt { path: String, reason: String },
}

/// How many other file names a "missing file" message lists.
const LISTED: usize = 8;

/// Returns the bytes of `path` inside the zip `archive`.
pub fn read_file<R: Read + Seek>(
    mut archive: R,
    path: &str,
    limits: &Limits,
) -> Result<Vec<u8>, ArtifactError> {
    let not_zip = |e: std::io::Error| ArtifactError::NotZip(e.to_string());
    let len = archive.seek(SeekFrom::End(0)).map_err(not_zip)?;
    if len == 0 {
        return Err(ArtifactError::Empty);
    }
    check_end_records(&mut archive, len, limits)?;
    // The zip crate may read no further back than a directory of the
    // limit and the end records need, whichever end record it settles on
    // (`floor.rs` says why); then the floor goes, for the entry itself.
    let window = limits
        .max_directory_bytes
        .saturating_add(zip_end::WINDOW as u64);
    let floor = Floor::new(len.saturating_sub(window));
    let parsed = Floored::new(archive, floor.clone())
        .and_then(|floored| zip::ZipArchive::new(floored).map_err(std::io::Error::other));
    let mut zip = parsed.map_err(|e| {
        if floor.was_hit() {
            ArtifactError::DirectoryOutOfReach {
                window,
                max: limits.max_directory_bytes,
            }
        } else {
            ArtifactError::NotZip(e.to_string())
        }
    })?;
    floor.lift();
    // The figures the last end record gave were checked; this counts the
    // entries the zip crate found, wherever it found them.
    if zip.len() > limits.max_entries {
        return Err(ArtifactError::TooManyEntries {
            count: zip.len() as u64,
            max: limits.max_entries,
        });
    }
    let wanted = normalize(path).ok_or_else(|| ArtifactError::UnsafePath(path.to_string()))?;
    let mut names = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    let mut found = None;
    for index in 0..zip.len() {
        // The central directory's record only: opening each entry would
        // read its local header, a request per entry on a ranged reader.
        let entry = zip
            .by_index_data(index)
            .map_err(|e| ArtifactError::NotZip(e.to_string()))?;
        let Some(name) = entry.enclosed_name() else {
            let raw = entry
                .name()
                .map(|n| n.into_owned())
                .unwrap_or_else(|_| "<undecodable name>".into());
            return Err(ArtifactError::UnsafePath(raw));
        };
        total = total.saturating_add(entry.size());
        if entry.is_dir() {
            continue;
        }
        let name = name.to_string_lossy().replace('\\', "/");
        if name == wanted {
            found = Some(index);
        }
        names.push(name);
    }
    if total > limits.max_total_bytes {
        return Err(ArtifactError::TooLarge {
            total,
            max: limits.max_total_bytes,
        });
    }
    let Some(index) = found else {
        return Err(ArtifactError::Missing {
            path: wanted,
            listing: listing(&mut names),
        });
    };
    let entry = zip.by_index(index).map_err(|e| ArtifactError::Corrupt {
        path: wanted.clone(),
        reason: e.to_string(),
    })?;
    let too_large = || ArtifactError::FileTooLarge {
        path: wanted.clone(),
        max: limits.max_file_bytes,
    };
    if entry.size() > limits.max_file_bytes {
        return Err(too_large());
    }
    // The declared size may lie: never inflate more than the limit + 1.
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ArtifactError::Corrupt {
            path: wanted.clone(),
            reason: e.to_string(),
        })?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Refuses a zip whose end records (read from its last bytes, which a
/// [`super::ranged::RangedReader`] holds already) list more entries or a
/// larger central directory than `limits` allow: before the zip crate
/// reads the directory, which it holds whole in memory (issue 27: 400,000
/// entries, 35 MB of zip, took the worker to 103 MB).
fn check_end_records<R: Read + Seek>(
    archive: &mut R,
    len: u64,
    limits: &Limits,
) -> Result<(), ArtifactError> {
    let not_zip = |e: std::io::Error| ArtifactError::NotZip(e.to_string());
    let window = len.min(zip_end::WINDOW as u64);
    archive
        .seek(SeekFrom::Start(len - window))
        .map_err(not_zip)?;
    let mut tail = vec![0; window as usize];
    archive.read_exact(&mut tail).map_err(not_zip)?;
    let end = zip_end::find(&tail, len).map_err(ArtifactError::NotZip)?;
    if end.entries > limits.max_entries as u64 {
        return Err(ArtifactError::TooManyEntries {
            count: end.entries,
            max: limits.max_entries,
        });
    }
    if end.directory_size > limits.max_directory_bytes {
        return Err(ArtifactError::DirectoryTooLarge {
            size: end.directory_size,
            max: limits.max_directory_bytes,
        });
    }
    Ok(())
}

/// `./app/deploy.json` and `/app/deploy.json` mean `app/deploy.json`;
/// anything that climbs out (`..`) is refused.
fn normalize(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for component in Path::new(path.trim()).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?.to_string()),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn listing(names: &mut [String]) -> String {
    if names.is_empty() {
        return "The artifact holds no files.".into();
    }
    names.sort();
    let shown: Vec<&str> = names.iter().take(LISTED).map(String::as_str).collect();
    let more = names.len().saturating_sub(LISTED);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("Files there: {}{tail}.", shown.join(", "))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::artifact::ranged::BLOCK;
    use crate::artifact::ranged::tests::reader_of;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;

    /// `read_file` over bytes in memory, and the same through a ranged
    /// reader that knows only the last 64 bytes at first: both answer alike.
    fn read(zip: &[u8], path: &str, limits: &Limits) -> Result<Vec<u8>, ArtifactError> {
        let whole = read_file(Cursor::new(zip), path, limits);
        let ranged = read_file(reader_of(zip, 64), path, limits);
        assert_eq!(whole, ranged, "in memory and through ranges");
        whole
    }

    /// A zip holding `files` (name, content).
    pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in files {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_a_file_by_normalized_path() {
        let zip = zip_of(&[("app/deploy.json", b"{}"), ("app/template.yaml", b"x")]);
        for path in ["app/deploy.json", "./app/deploy.json", "/app/deploy.json"] {
            assert_eq!(read(&zip, path, &Limits::default()).unwrap(), b"{}");
        }
    }

    #[test]
    fn a_missing_file_lists_what_is_there() {
        let zip = zip_of(&[("b.txt", b""), ("a.json", b"")]);
        let err = read(&zip, "deploy.json", &Limits::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'deploy.json' is not in the input artifact. Files there: a.json, b.txt."
        );
        let many: Vec<(String, &[u8])> = (0..12).map(|i| (format!("f{i:02}"), &b""[..])).collect();
        let many: Vec<(&str, &[u8])> = many.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let err = read(&zip_of(&many), "x", &Limits::default()).unwrap_err();
        assert!(err.to_string().ends_with("f07 and 4 more."), "{err}");
    }

    #[test]
    fn refuses_empty_garbage_and_traversal() {
        assert_eq!(
            read(b"", "a", &Limits::default()),
            Err(ArtifactError::Empty)
        );
        assert!(matches!(
            read(b"not a zip", "a", &Limits::default()),
            Err(ArtifactError::NotZip(_))
        ));
        let zip = zip_of(&[("../evil", b"x"), ("ok", b"y")]);
        assert_eq!(
            read(&zip, "ok", &Limits::default()),
            Err(ArtifactError::UnsafePath("../evil".into()))
        );
        let zip = zip_of(&[("ok", b"y")]);
        assert_eq!(
            read(&zip, "../ok", &Limits::default()),
            Err(ArtifactError::UnsafePath("../ok".into()))
        );
    }

    #[test]
    fn enforces_entry_count_and_sizes() {
        let limits = Limits {
            max_entries: 2,
            max_file_bytes: 10,
            max_total_bytes: 25,
            ..Limits::default()
        };
        let three = zip_of(&[("a", b""), ("b", b""), ("c", b"")]);
        assert_eq!(
            read(&three, "a", &limits),
            Err(ArtifactError::TooManyEntries { count: 3, max: 2 })
        );
        let big = zip_of(&[("a", &[b'x'; 11])]);
        assert_eq!(
            read(&big, "a", &limits),
            Err(ArtifactError::FileTooLarge {
                path: "a".into(),
                max: 10
            })
        );
        let bomb = zip_of(&[("a", &[0u8; 20]), ("b", &[0u8; 20])]);
        assert_eq!(
            read(&bomb, "a", &limits),
            Err(ArtifactError::TooLarge { total: 40, max: 25 })
        );
        let fits = zip_of(&[("a", &[b'x'; 10])]);
        assert_eq!(read(&fits, "a", &limits).unwrap().len(), 10);
    }

    /// A zip of a small `deploy.json` and `filler` bytes stored as they
    /// are, the filler first or last.
    fn with_filler(filler: usize, filler_first: bool) -> Vec<u8> {
        let stored = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(filler > u32::MAX as usize);
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deploy = |writer: &mut zip::ZipWriter<_>| {
            writer
                .start_file("app/deploy.json", SimpleFileOptions::default())
                .unwrap();
            writer.write_all(br#"{"stackName":"app"}"#).unwrap();
        };
        if !filler_first {
            deploy(&mut writer);
        }
        writer.start_file("app/blob.bin", stored).unwrap();
        writer.write_all(&vec![0xa5; filler]).unwrap();
        if filler_first {
            deploy(&mut writer);
        }
        writer.finish().unwrap().into_inner()
    }

    /// The point of the ranged reader: a file is read out of a large zip by
    /// fetching a few blocks, not the zip.
    #[test]
    fn a_small_file_of_a_large_zip_costs_a_few_blocks() {
        for filler_first in [true, false] {
            let zip = with_filler(8 << 20, filler_first);
            let mut reader = reader_of(&zip, BLOCK as usize);
            let mut archive = zip::ZipArchive::new(&mut reader).unwrap();
            let mut file = archive.by_name("app/deploy.json").unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert_eq!(text, r#"{"stackName":"app"}"#);
            drop(file);
            drop(archive);
            let (bytes, fetches) = reader.fetched();
            assert!(
                fetches <= 1 && bytes <= BLOCK,
                "{fetches} fetches, {bytes} bytes"
            );
            // And through `read_file`, whose first look at the end records
            // is served by the tail the reader was given.
            let mut reader = reader_of(&zip, BLOCK as usize);
            let read = read_file(&mut reader, "app/deploy.json", &Limits::default());
            assert_eq!(read.unwrap(), br#"{"stackName":"app"}"#);
            let (bytes, fetches) = reader.fetched();
            assert!(
                fetches <= 1 && bytes <= BLOCK,
                "{fetches} fetches, {bytes} bytes"
            );
        }
    }

    /// Zip64: an entry with Zip64 sizes, in an archive whose 32-bit end of
    /// central directory record is saturated (0xFFFFFFFF directory size),
    /// so only the Zip64 record says where the directory is, as in
    /// archives of over 65,535 entries or 4 GiB.
    #[test]
    fn zip64_archives_are_read() {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer.set_raw_zip64_extensible_data_sector(Box::new(*b"cpsf"));
        let large = SimpleFileOptions::default().large_file(true);
        writer.start_file("README.md", large).unwrap();
        writer.start_file("deploy.json", large).unwrap();
        writer.write_all(b"{}").unwrap();
        let zip = writer.finish().unwrap().into_inner();
        let zip64_end = [0x50, 0x4b, 0x06, 0x06];
        assert!(zip.windows(4).any(|w| w == zip64_end));
        let eocd_directory_size = &zip[zip.len() - 10..zip.len() - 6];
        assert_eq!(eocd_directory_size, [0xff; 4]);
        assert_eq!(
            read(&zip, "deploy.json", &Limits::default()).unwrap(),
            b"{}"
        );
    }
}

#[cfg(test)]
#[path = "read_end_tests.rs"]
mod end_tests;
