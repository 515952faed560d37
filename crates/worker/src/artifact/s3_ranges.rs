//! Ranged GETs of one S3 object: its tail first (which tells the size),
//! then whatever ranges the zip reader asks for, each checked to be of the
//! object first seen (S3 API reference, GetObject: `Range`, `If-Match`).

use super::ranged::{BLOCK, Fetch};
use super::s3::ReadError;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use bytes::{Bytes, BytesMut};
use std::sync::{Arc, Mutex};

/// The first request asks for this many bytes from the end: the end of
/// central directory record (22 bytes and a comment of up to 64 KiB)
/// always, the central directory of most artifacts too.
pub const TAIL: u64 = BLOCK;

// `artifact::read_file` first reads the zip's last `zip_end::WINDOW` bytes
// for its end records: within the tail, so they cost no request.
const _: () = assert!(TAIL >= super::zip_end::WINDOW as u64);

pub struct RemoteObject {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
    /// The ETag of the first answer; later ranges must match it.
    pub e_tag: Option<String>,
}

impl RemoteObject {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Fetches the tail and learns the size, refusing an object over
    /// `max_bytes` before its body is read. Returns the object (with its
    /// ETag), its size and its tail.
    pub async fn open(mut self, max_bytes: u64) -> Result<(Self, u64, Bytes), ReadError> {
        let location = self.location();
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes=-{TAIL}"))
            .send()
            .await;
        let object = match answer {
            Ok(object) => object,
            // A suffix range is satisfiable unless the object is empty
            // (RFC 9110 §14.1.1); S3 answers 416 InvalidRange for that.
            Err(e) if e.code() == Some("InvalidRange") => return Ok((self, 0, Bytes::new())),
            Err(e) => return Err(ReadError::S3(could_not_read(&location, e))),
        };
        let length = object.content_length().unwrap_or(0).max(0) as u64;
        let (first, size) = match object.content_range() {
            Some(range) => parse_content_range(range).ok_or_else(|| {
                ReadError::S3(format!(
                    "could not read the input artifact {location}: Content-Range '{range}'"
                ))
            })?,
            // No range: the whole object came, which only a small one may.
            None if length <= TAIL => (0, length),
            None => {
                return Err(ReadError::S3(format!(
                    "could not read the input artifact {location}: S3 ignored the Range header"
                )));
            }
        };
        if size > max_bytes {
            return Err(ReadError::S3(format!(
                "the input artifact {location} is {size} bytes; at most {max_bytes} are read"
            )));
        }
        let Some(expected) = size.checked_sub(first) else {
            return Err(ReadError::S3(format!(
                "could not read the input artifact {location}: Content-Range {:?}",
                object.content_range()
            )));
        };
        self.e_tag = object.e_tag().map(str::to_string);
        let tail = collect(object.body, expected, &location)
            .await
            .map_err(ReadError::S3)?;
        Ok((self, size, tail))
    }

    /// Bytes `start..end` of the object.
    pub async fn range(&self, start: u64, end: u64) -> Result<Bytes, String> {
        let location = self.location();
        let mut request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={start}-{}", end - 1));
        if let Some(e_tag) = &self.e_tag {
            request = request.if_match(e_tag);
        }
        let object = request.send().await.map_err(|e| {
            if e.code() == Some("PreconditionFailed") {
                format!("the input artifact {location} changed while it was read")
            } else {
                could_not_read(&location, e)
            }
        })?;
        match object.content_range().and_then(parse_content_range) {
            Some((first, _)) if first == start => {}
            _ => {
                return Err(format!(
                    "could not read the input artifact {location}: asked for bytes {start}..{end}, \
                     got Content-Range {:?}",
                    object.content_range()
                ));
            }
        }
        let bytes = collect(object.body, end - start, &location).await?;
        if bytes.len() as u64 != end - start {
            return Err(format!(
                "could not read the input artifact {location}: asked for bytes {start}..{end}, got {}",
                bytes.len()
            ));
        }
        Ok(bytes)
    }
}

fn could_not_read<E: std::error::Error + 'static, R: std::fmt::Debug>(
    location: &str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> String {
    format!(
        "could not read the input artifact {location}: {}",
        DisplayErrorContext(e)
    )
}

/// The body, refusing more than `expected` bytes (an answer that is not
/// the range asked for).
async fn collect(
    mut body: aws_sdk_s3::primitives::ByteStream,
    expected: u64,
    location: &str,
) -> Result<Bytes, String> {
    let mut bytes = BytesMut::with_capacity(expected as usize);
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| format!("could not read the input artifact {location}: {e}"))?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > expected {
            return Err(format!(
                "could not read the input artifact {location}: more than the {expected} bytes asked for came"
            ));
        }
    }
    Ok(bytes.freeze())
}

/// `bytes <first>-<last>/<size>` (RFC 9110 §14.4): the first byte and the
/// object's size. An empty object's range (`bytes 0--1/0` from some
/// emulators) has first byte 0.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let (range, size) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let size = size.trim().parse().ok()?;
    let first = range.split_once('-')?.0.trim().parse().ok()?;
    Some((first, size))
}

/// [`RemoteObject::range`] for the zip crate's synchronous reads, run on a
/// blocking thread. The first failure is kept, so the caller can tell an
/// S3 error from a broken zip.
pub struct BlockingFetch {
    pub object: RemoteObject,
    pub runtime: tokio::runtime::Handle,
    pub failed: Arc<Mutex<Option<String>>>,
}

impl Fetch for BlockingFetch {
    fn fetch(&mut self, start: u64, end: u64) -> std::io::Result<Bytes> {
        self.runtime
            .block_on(self.object.range(start, end))
            .map_err(|message| {
                let mut failed = self.failed.lock().expect("not poisoned");
                failed.get_or_insert_with(|| message.clone());
                std::io::Error::other(message)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges_are_parsed() {
        assert_eq!(parse_content_range("bytes 900-999/1000"), Some((900, 1000)));
        assert_eq!(parse_content_range("bytes 0--1/0"), Some((0, 0)));
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
    }
}
