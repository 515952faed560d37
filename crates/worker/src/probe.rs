//! Plain-http requests to a service on this machine, through hyper's
//! HTTP/1.1 client: the readiness probe ("does something answer HTTP at
//! this endpoint yet?", `cpsf healthcheck`, the playground's start-up),
//! and the demo's and tests' visits to the approval page.
//!
//! Any HTTP status counts as an answer; only a refused connection or a
//! garbled reply means "not yet".

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// One answer: its status, headers (names in lowercase, as hyper gives
/// them) and body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// GET `url` (`form` None), or POST it `form`, a body already encoded as
/// `application/x-www-form-urlencoded`; the whole answer.
pub async fn request(url: &str, form: Option<String>) -> Result<Answer> {
    let response = send(url, if form.is_some() { "POST" } else { "GET" }, form).await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).to_string();
            (name.as_str().to_string(), value)
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .context("the answer's body was cut off")?
        .to_bytes();
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

/// Sends one request and returns the status code (the body is not read:
/// a probe only asks whether something answers).
pub async fn http_status(endpoint: &str, method: &str, path: &str) -> Result<u16> {
    let url = format!("{}{path}", endpoint.trim_end_matches('/'));
    Ok(send(&url, method, None).await?.status().as_u16())
}

/// Sends `method` to `url` (plain http) on a connection of its own, which
/// closes once the answer is read or dropped.
async fn send(url: &str, method: &str, form: Option<String>) -> Result<hyper::Response<Incoming>> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("{url} is no URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("{url}: the probe speaks plain http only");
    }
    let authority = uri
        .authority()
        .context("the URL names no host")?
        .to_string();
    let stream = TcpStream::connect(&authority).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("not an HTTP server")?;
    // The connection is driven beside the request; it ends with it.
    tokio::spawn(connection);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, &authority);
    if form.is_some() {
        request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = request.body(Full::new(Bytes::from(form.unwrap_or_default())))?;
    sender
        .send_request(request)
        .await
        .context("not an HTTP reply")
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
