//! S3's REST requests checked against the limits S3 documents and botocore's
//! model does not carry (its `ObjectKey` has only a minimum, `BucketName`
//! nothing): a key's size, a new bucket's name, user metadata's size. Only
//! path-style requests (`/bucket/key`, as the playground's clients send
//! them); the XML bodies and the model's few header constraints are left
//! out.

use hyper::HeaderMap;

/// An S3 error: its code and message, as S3 writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Refusal {
    pub code: &'static str,
    pub message: &'static str,
    /// What failed, without the value: for logs and test failures.
    pub summary: String,
}

/// S3 user guide, "Naming Amazon S3 objects": "The object key name is a
/// sequence of Unicode characters with UTF-8 encoding of up to 1,024 bytes
/// long."
pub const MAX_KEY_BYTES: usize = 1024;
/// S3 user guide, "Working with object metadata": "the user-defined
/// metadata is limited to 2 KB in size … measured by taking the sum of the
/// number of bytes in the UTF-8 encoding of each key and value."
pub const MAX_USER_METADATA_BYTES: usize = 2048;

/// What `method` on `path` (still percent-encoded) with `query` breaks.
pub fn check(
    method: &hyper::Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Option<S3Refusal> {
    let path = path.strip_prefix('/')?;
    let (bucket, key) = match path.split_once('/') {
        Some((bucket, key)) => (bucket, Some(key).filter(|k| !k.is_empty())),
        None => (path, None),
    };
    let key = key.map(|k| percent_encoding::percent_decode_str(k).decode_utf8_lossy());
    if let Some(key) = &key
        && key.len() > MAX_KEY_BYTES
    {
        // S3 API reference, "Error responses": KeyTooLongError, 400.
        return Some(S3Refusal {
            code: "KeyTooLongError",
            message: "Your key is too long",
            summary: format!("a key of {} bytes (at most {MAX_KEY_BYTES})", key.len()),
        });
    }
    if *method == hyper::Method::PUT
        && key.is_none()
        && query.unwrap_or("").is_empty()
        && let Some(rule) = bucket_name_breaks(bucket)
    {
        // S3 API reference, "Error responses": InvalidBucketName, 400.
        return Some(S3Refusal {
            code: "InvalidBucketName",
            message: "The specified bucket is not valid.",
            summary: format!("CreateBucket: the name {rule}"),
        });
    }
    if *method == hyper::Method::PUT && key.is_some() {
        let metadata: usize = headers
            .iter()
            .filter_map(|(name, value)| {
                let name = name.as_str().strip_prefix("x-amz-meta-")?;
                Some(name.len() + value.as_bytes().len())
            })
            .sum();
        if metadata > MAX_USER_METADATA_BYTES {
            // S3 API reference, "Error responses": MetadataTooLarge, 400.
            return Some(S3Refusal {
                code: "MetadataTooLarge",
                message: "Your metadata headers exceed the maximum allowed metadata size.",
                summary: format!(
                    "{metadata} bytes of user metadata (at most {MAX_USER_METADATA_BYTES})"
                ),
            });
        }
    }
    None
}

/// Which general purpose bucket naming rule `name` breaks (S3 user guide,
/// "General purpose bucket naming rules"), if any.
fn bucket_name_breaks(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some("must be between 3 and 63 characters long");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return Some("can consist only of lowercase letters, numbers, periods and hyphens");
    }
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alphanumeric(&bytes[0]) || !alphanumeric(&bytes[bytes.len() - 1]) {
        return Some("must begin and end with a letter or number");
    }
    if name.contains("..") {
        return Some("must not contain two adjacent periods");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("must not be formatted as an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") || name.starts_with("amzn-s3-demo-")
    {
        return Some("must not start with a reserved prefix");
    }
    if ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
    {
        return Some("must not end with a reserved suffix");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    #[test]
    fn keys_over_1024_bytes_new_bad_bucket_names_and_large_metadata_are_refused() {
        let none = HeaderMap::new();
        let long_key = format!("/b/{}", "k".repeat(1025));
        assert_eq!(
            check(&Method::GET, &long_key, None, &none).unwrap().code,
            "KeyTooLongError"
        );
        // 512 two-byte characters are 1,024 bytes: the limit, accepted.
        let at_limit = format!("/b/{}", "%C3%A9".repeat(512));
        assert_eq!(check(&Method::PUT, &at_limit, None, &none), None);
        assert_eq!(
            check(&Method::PUT, "/Bad_Bucket", None, &none)
                .unwrap()
                .code,
            "InvalidBucketName"
        );
        assert_eq!(check(&Method::PUT, "/cpsf-artifacts", None, &none), None);
        // Only a new bucket's name is checked: a PUT to a subresource of
        // an existing bucket (a policy) is not CreateBucket.
        assert_eq!(check(&Method::PUT, "/ab", Some("policy"), &none), None);
        let mut metadata = HeaderMap::new();
        metadata.insert("x-amz-meta-note", "x".repeat(2045).parse().unwrap());
        assert_eq!(
            check(&Method::PUT, "/b/k", None, &metadata).unwrap().code,
            "MetadataTooLarge"
        );
    }
}
