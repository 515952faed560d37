//! A `Read + Seek` that refuses to read before a floor until the floor is
//! lifted. The zip crate parses a zip's central directory wherever an end
//! record it believes points, and falls back to earlier end records when
//! the last one is broken (a decoy 22 bytes long is enough), so checking
//! the last record's figures (`zip_end.rs`) does not by itself bound what
//! it reads and holds. Behind a floor it reads only the last bytes of the
//! zip whatever the records say; the floor is lifted once the directory is
//! parsed, to read the wanted entry.
//!
//! The floor bounds bytes, not entries: behind a decoy, the zip crate may
//! still parse a directory of up to `Limits::max_directory_bytes` before
//! the entry count refuses it. Measured with `cpsf replay` (debug build):
//! 76,721 entries of 6-byte names in 4 MB of directory take the process
//! from 47 MB to 64 MB, against 126 MB for 400,000 entries with no floor.

use std::cell::Cell;
use std::io::{self, Read, Seek, SeekFrom};
use std::rc::Rc;

/// The floor, shared by the reader (moved into the zip crate's archive)
/// and its owner.
#[derive(Debug, Default)]
pub struct Floor {
    at: Cell<u64>,
    hit: Cell<bool>,
}

impl Floor {
    pub fn new(at: u64) -> Rc<Self> {
        Rc::new(Self {
            at: Cell::new(at),
            hit: Cell::new(false),
        })
    }

    /// Whether a read before the floor was refused.
    pub fn was_hit(&self) -> bool {
        self.hit.get()
    }

    pub fn lift(&self) {
        self.at.set(0);
    }
}

pub struct Floored<R> {
    inner: R,
    position: u64,
    floor: Rc<Floor>,
}

impl<R: Seek> Floored<R> {
    pub fn new(mut inner: R, floor: Rc<Floor>) -> io::Result<Self> {
        let position = inner.stream_position()?;
        Ok(Self {
            inner,
            position,
            floor,
        })
    }
}

impl<R: Read> Read for Floored<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.position < self.floor.at.get() {
            self.floor.hit.set(true);
            // Not UnexpectedEof, which the zip crate takes for "no
            // signature here": the read is refused, not short.
            return Err(io::Error::other(format!(
                "byte {} is before the last bytes read while the central directory is parsed",
                self.position
            )));
        }
        let n = self.inner.read(buf)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Floored<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn nothing_before_the_floor_is_read_until_it_is_lifted() {
        let floor = Floor::new(6);
        let mut reader = Floored::new(Cursor::new(b"0123456789".to_vec()), floor.clone()).unwrap();
        let mut two = [0u8; 2];
        reader.seek(SeekFrom::End(-4)).unwrap();
        reader.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"67");
        assert!(!floor.was_hit());
        reader.seek(SeekFrom::Start(5)).unwrap();
        let refused = reader.read_exact(&mut two).unwrap_err();
        assert_ne!(refused.kind(), io::ErrorKind::UnexpectedEof);
        assert!(floor.was_hit());
        floor.lift();
        reader.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"56");
    }
}
