//! A loopback HTTP proxy that sits between a worker and the playground. It
//! counts every AWS call by operation, and can make a share of them fail the
//! ways AWS calls fail: throttled, a server error, a connection dropped
//! after the call took effect, or a slow answer. The worker is handed the
//! proxy's address as every endpoint and cannot tell it is there.
//!
//! A [`Hook`] sees each call before it is forwarded and after it took
//! effect; the crash tests use it to kill a worker at a chosen point of a
//! job's life.
//!
//! With [`Checks`] (the playground's relay), every call is checked against
//! the AWS API model of its operation first, and one AWS would refuse is
//! answered as AWS answers it (`checks/`).
//!
//! - `call.rs`: which service, operation and protocol a call is
//! - `answers.rs`: the proxy's own answers (faults, refusals) in each
//!   protocol's error shape
//! - `faults.rs`: which calls fail, and how
//! - `orphans.rs`: activity tasks whose poller had gone
//!
//! Routing: CodePipeline calls (and the local service's own `/_cpsf/`
//! pages) go to the local CodePipeline service, everything else (S3, Step
//! Functions, CloudFormation, IAM, STS) to the emulator.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

mod answers;
mod call;
pub mod checks;
mod faults;
mod orphans;

use call::{Call, Protocol};
pub use checks::{Checks, ChecksReport, Refusal};
pub use faults::{Fault, FaultPlan};
use orphans::{OrphanedTasks, hands_out_a_task, polled_activity};
use tokio_util::sync::CancellationToken;

/// When a hook is called: before a call is forwarded, or after the
/// playground answered it (it took effect) and before the caller hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Before,
    After,
}

/// What the proxy does once a hook returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// Close the connection without an answer.
    Drop,
    /// Answer (before forwarding) with the service's throttling error.
    Throttle,
}

/// Called with the phase, the operation (`codepipeline:PollForJobs`) and
/// the request's body (before) or the response's (after).
pub type Hook = Arc<dyn Fn(Phase, &str, &[u8]) -> Verdict + Send + Sync>;

/// Calls seen, by operation, and faults injected, by kind.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ProxyStats {
    pub calls: BTreeMap<String, u64>,
    pub faults: BTreeMap<Fault, u64>,
}

impl ProxyStats {
    pub fn total_calls(&self) -> u64 {
        self.calls.values().sum()
    }

    pub fn total_faults(&self) -> u64 {
        self.faults.values().sum()
    }
}

pub struct ProxyOptions {
    /// Base URL of the local CodePipeline service.
    pub codepipeline: String,
    /// Base URL of the AWS emulator.
    pub emulator: String,
    pub faults: FaultPlan,
    pub hook: Option<Hook>,
    /// Keep an activity task that the emulator handed to a GetActivityTask
    /// whose caller had gone, and hand it to the next poll of that
    /// activity (see `orphans.rs`).
    pub keep_orphaned_tasks: bool,
    /// Check each call as AWS would before forwarding it.
    pub checks: Option<Arc<Checks>>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    stats: Arc<Mutex<ProxyStats>>,
    stop: CancellationToken,
}

impl Proxy {
    pub async fn start(options: ProxyOptions) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("could not bind a loopback port for the proxy")?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Mutex::new(ProxyStats::default()));
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            options,
            // Idle connections are let go well before the emulator closes
            // them (MiniStack sets hypercorn's keep-alive to 75 s; hyper's
            // pool would keep them 90 s), so a request never goes out on a
            // connection the far end is closing.
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(HttpConnector::new()),
            stats: stats.clone(),
            orphans: OrphanedTasks::default(),
        });
        tokio::spawn(accept(listener, shared, stop.clone()));
        Ok(Self { addr, stats, stop })
    }

    /// The URL to hand the worker as its endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> ProxyStats {
        self.stats.lock().expect("proxy stats poisoned").clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Shared {
    options: ProxyOptions,
    client: Client<HttpConnector, Full<Bytes>>,
    stats: Arc<Mutex<ProxyStats>>,
    orphans: OrphanedTasks<Forwarded>,
}

/// Returned to hyper to close a connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by the proxy")]
struct Dropped;

async fn accept(listener: TcpListener, shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "proxy could not accept a connection");
                    continue;
                }
            },
            () = stop.cancelled() => return,
        };
        let shared = shared.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { shared.handle(request).await }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                () = stop.cancelled() => {}
            }
        });
    }
}

impl Shared {
    async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Dropped> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        let call = Call::classify(&parts.method, &parts.headers, &body);
        let fault = self.options.faults.pick(&call.operation);
        {
            let mut stats = self.stats.lock().expect("proxy stats poisoned");
            *stats.calls.entry(call.operation.clone()).or_default() += 1;
            if let Some(fault) = fault {
                *stats.faults.entry(fault).or_default() += 1;
            }
        }
        match self.hook(Phase::Before, &call.operation, &body) {
            Verdict::Drop => return Err(Dropped),
            Verdict::Throttle => return Ok(call.protocol.throttled()),
            Verdict::Continue => {}
        }
        match fault {
            Some(Fault::Throttled) => return Ok(call.protocol.throttled()),
            Some(Fault::ServerError) => return Ok(call.protocol.server_error()),
            Some(Fault::Slow) => tokio::time::sleep(self.options.faults.slow_by).await,
            Some(Fault::Dropped) | None => {}
        }
        if let Some(checks) = &self.options.checks
            && let Some(refusal) = checks.check(&call.request(&parts, &body))
        {
            return Ok(call.protocol.refused(&refusal));
        }
        let to_codepipeline = call.protocol == Protocol::Json { codepipeline: true }
            || parts.uri.path().starts_with("/_cpsf/");
        let upstream = if to_codepipeline {
            &self.options.codepipeline
        } else {
            &self.options.emulator
        };
        let response =
            if self.options.keep_orphaned_tasks && call.operation == "states:GetActivityTask" {
                let upstream = upstream.clone();
                self.clone()
                    .forward_activity_poll(upstream, parts, body)
                    .await?
            } else {
                self.forward(upstream, parts, body).await?
            };
        if let Some(checks) = &self.options.checks {
            checks.saw_answer(&call.operation, response.parts.status, &response.body);
        }
        if self.hook(Phase::After, &call.operation, response.body_bytes()) == Verdict::Drop
            || fault == Some(Fault::Dropped)
        {
            return Err(Dropped);
        }
        Ok(response.into_response())
    }

    fn hook(&self, phase: Phase, operation: &str, body: &[u8]) -> Verdict {
        self.options
            .hook
            .as_ref()
            .map_or(Verdict::Continue, |hook| hook(phase, operation, body))
    }

    /// A GetActivityTask: a kept task of the activity if there is one,
    /// else the emulator's answer. The call runs on its own task, so when
    /// the caller goes (hyper drops this future with the connection) a
    /// task the emulator hands out after that is kept, not lost.
    async fn forward_activity_poll(
        self: Arc<Self>,
        upstream: String,
        parts: hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<Forwarded, Dropped> {
        let activity = polled_activity(&body);
        let mut handed_over = match self.orphans.take_or_wait(&activity) {
            Ok(kept) => {
                tracing::info!(%activity, "handing out an activity task whose first poller had gone");
                return Ok(kept);
            }
            Err(waiting) => waiting,
        };
        let (answer_to, answer) = oneshot::channel();
        let relay = self.clone();
        let polled = activity.clone();
        tokio::spawn(async move {
            let forwarded = relay.forward(&upstream, parts, body).await;
            if let Err(Ok(unclaimed)) = answer_to.send(forwarded)
                && hands_out_a_task(unclaimed.body_bytes())
            {
                tracing::info!(activity = %polled, "kept an activity task its poller did not wait for");
                relay.orphans.keep(polled, unclaimed);
            }
        });
        tokio::select! {
            answered = answer => {
                // A task handed over at this very moment must not be lost.
                handed_over.close();
                if let Ok(kept) = handed_over.try_recv() {
                    self.orphans.keep(activity, kept);
                }
                answered.unwrap_or(Err(Dropped))
            }
            Ok(kept) = &mut handed_over => {
                tracing::info!(%activity, "handing out an activity task whose first poller had gone");
                Ok(kept)
            }
        }
    }

    async fn forward(
        &self,
        upstream: &str,
        mut parts: hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<Forwarded, Dropped> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = format!("{upstream}{path}").parse().map_err(|_| Dropped)?;
        let response = self
            .client
            .request(Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(|error| {
                tracing::warn!(%error, "proxy could not reach the playground");
                Dropped
            })?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        Ok(Forwarded { parts, body })
    }
}

/// The playground's answer, held until the hook has seen it.
#[derive(Debug)]
struct Forwarded {
    parts: hyper::http::response::Parts,
    body: Bytes,
}

impl Forwarded {
    fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        Response::from_parts(self.parts, Full::new(self.body))
    }
}
