//! Readiness probe: "does something answer HTTP at this endpoint yet?"
//!
//! Any HTTP status counts as an answer; only a refused connection or a
//! garbled reply means "not yet".

use anyhow::{Context, Result, bail};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends one request and returns the status code.
pub async fn http_status(endpoint: &str, method: &str, path: &str) -> Result<u16> {
    let authority = endpoint
        .strip_prefix("http://")
        .context("the probe speaks plain http only")?
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    // "HTTP/1.1 200"
    let status = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok());
    match status {
        Some(code) if head.starts_with(b"HTTP/1.") => Ok(code),
        _ => bail!("not an HTTP reply"),
    }
}

/// Probes every 50 ms until the endpoint answers or `timeout` passes.
pub async fn wait_until_answers(
    endpoint: &str,
    method: &str,
    path: &str,
    timeout: Duration,
) -> Result<u16> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match http_status(endpoint, method, path).await {
            Ok(code) => return Ok(code),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(e)
                    .with_context(|| format!("{endpoint} did not answer within {timeout:?}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
