//! A `Read + Seek` view of an object too large to hold, read in ranges on
//! demand, so the `zip` crate can find one entry without the whole zip in
//! memory: the end of central directory record and the central directory
//! come from the tail, then the wanted entry's local header and data.
//! Pure: the ranges come from a [`Fetch`] (S3 ranged GETs in `s3.rs`,
//! slices in tests), and at most [`CACHED_BLOCKS`] blocks are kept.

use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{self, Read, Seek, SeekFrom};

/// How much one fetch reads past the position asked for. Large enough
/// that the zip crate's small reads of a central directory or of an
/// entry's data cost one request per block, small enough that the cache
/// stays near a megabyte.
pub const BLOCK: u64 = 256 * 1024;

/// Blocks kept (least recently used goes first): the tail, where the
/// central directory usually is, plus the blocks being read.
pub const CACHED_BLOCKS: usize = 4;

/// Where the bytes come from.
pub trait Fetch {
    /// Bytes `start..end` of the object (`end` ≤ its size).
    fn fetch(&mut self, start: u64, end: u64) -> io::Result<Bytes>;
}

pub struct RangedReader<F> {
    fetch: F,
    size: u64,
    position: u64,
    /// (offset, bytes), most recently used last.
    blocks: VecDeque<(u64, Bytes)>,
    fetched_bytes: u64,
    fetches: u64,
}

impl<F: Fetch> RangedReader<F> {
    /// An object of `size` bytes whose last `tail.len()` bytes are known
    /// already (the first request asks for the tail, which also tells the
    /// size).
    pub fn new(fetch: F, size: u64, tail: Bytes) -> Self {
        let mut blocks = VecDeque::new();
        if !tail.is_empty() {
            blocks.push_back((size - tail.len() as u64, tail));
        }
        Self {
            fetch,
            size,
            position: 0,
            blocks,
            fetched_bytes: 0,
            fetches: 0,
        }
    }

    /// Bytes fetched after the tail, and in how many requests.
    pub fn fetched(&self) -> (u64, u64) {
        (self.fetched_bytes, self.fetches)
    }

    /// The block holding `position`, fetched if no cached block does.
    fn block_at(&mut self, position: u64) -> io::Result<&(u64, Bytes)> {
        let found = self
            .blocks
            .iter()
            .position(|(start, bytes)| (*start..*start + bytes.len() as u64).contains(&position));
        let block = match found {
            Some(index) => self.blocks.remove(index).expect("index is in range"),
            None => {
                let end = position.saturating_add(BLOCK).min(self.size);
                let bytes = self.fetch.fetch(position, end)?;
                if bytes.len() as u64 != end - position {
                    // Not UnexpectedEof: the zip crate takes that for "no
                    // signature here" and would look elsewhere.
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "asked for bytes {position}..{end}, got {} bytes",
                            bytes.len()
                        ),
                    ));
                }
                self.fetched_bytes += bytes.len() as u64;
                self.fetches += 1;
                if self.blocks.len() >= CACHED_BLOCKS {
                    self.blocks.pop_front();
                }
                (position, bytes)
            }
        };
        self.blocks.push_back(block);
        Ok(self.blocks.back().expect("just pushed"))
    }
}

impl<F: Fetch> Read for RangedReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.position >= self.size {
            return Ok(0);
        }
        let position = self.position;
        let (start, bytes) = self.block_at(position)?;
        let from = (position - start) as usize;
        let n = buf.len().min(bytes.len() - from);
        buf[..n].copy_from_slice(&bytes[from..from + n]);
        self.position += n as u64;
        Ok(n)
    }
}

impl<F: Fetch> Seek for RangedReader<F> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(n) => self.size.checked_add_signed(n),
            SeekFrom::Current(n) => self.position.checked_add_signed(n),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the object",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Ranges of an object held in memory, counted.
    pub struct Slices {
        pub object: Bytes,
    }

    impl Fetch for Slices {
        fn fetch(&mut self, start: u64, end: u64) -> io::Result<Bytes> {
            Ok(self.object.slice(start as usize..end as usize))
        }
    }

    /// A reader over `object` that knows its last `tail` bytes, as the
    /// S3 edge hands it out.
    pub fn reader_of(object: &[u8], tail: usize) -> RangedReader<Slices> {
        let object = Bytes::copy_from_slice(object);
        let tail = object.slice(object.len().saturating_sub(tail)..);
        RangedReader::new(
            Slices {
                object: object.clone(),
            },
            object.len() as u64,
            tail,
        )
    }

    #[test]
    fn reads_and_seeks_like_a_cursor() {
        let object: Vec<u8> = (0..(3 * BLOCK + 17)).map(|i| (i % 251) as u8).collect();
        let mut reader = reader_of(&object, 100);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, object);
        reader.seek(SeekFrom::End(-5)).unwrap();
        let mut last = [0u8; 8];
        assert_eq!(reader.read(&mut last).unwrap(), 5);
        assert_eq!(&last[..5], &object[object.len() - 5..]);
        reader.seek(SeekFrom::Start(BLOCK - 2)).unwrap();
        reader.seek(SeekFrom::Current(1)).unwrap();
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).unwrap();
        assert_eq!(two, object[BLOCK as usize - 1..BLOCK as usize + 1]);
        assert!(
            reader
                .seek(SeekFrom::Current(-(BLOCK as i64) * 10))
                .is_err()
        );
    }

    #[test]
    fn the_tail_is_not_fetched_again_and_the_cache_stays_bounded() {
        let object = vec![7u8; (10 * BLOCK) as usize];
        let mut reader = reader_of(&object, 1000);
        reader.seek(SeekFrom::End(-1000)).unwrap();
        reader.read_to_end(&mut Vec::new()).unwrap();
        assert_eq!(reader.fetched(), (0, 0));
        reader.seek(SeekFrom::Start(0)).unwrap();
        reader.read_to_end(&mut Vec::new()).unwrap();
        let cached: usize = reader.blocks.iter().map(|(_, b)| b.len()).sum();
        assert!(cached as u64 <= CACHED_BLOCKS as u64 * BLOCK, "{cached}");
    }
}
