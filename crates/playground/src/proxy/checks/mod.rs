//! The playground checks every request that passes its relay as AWS checks
//! it before acting on it: against the operation's input shape in the AWS
//! API model (required members, lengths, patterns, ranges, enums, list and
//! map sizes, nested), or for S3 against its documented limits. A request
//! that breaks one is answered as AWS answers it (400, ValidationException
//! or ValidationError in the protocol's error shape, with AWS's words) and
//! recorded, so a test can fail on a request AWS would have refused even
//! where the emulator accepts it.
//!
//! Step Functions' 256 KiB on an execution's input, a task's output and a
//! callback's payload is in its model (counted in UTF-8 bytes, as the model
//! says), so it is checked here too; `state_data.rs` checks what only the
//! execution history shows (each state's input and output).
//!
//! What is left unchecked, and counted as such: requests with no signature,
//! services with no model in botocore's data, CloudWatch's Smithy RPC v2
//! CBOR requests, S3's XML bodies, patterns regex-lite cannot compile.

mod documented;
pub mod model;
pub mod query;
pub mod s3;
#[cfg(test)]
mod tests;
pub mod validate;

use model::{ModelProtocol, Models};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// How the request is written, as far as checking goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Json,
    Query,
    RestXml,
}

/// One request, as the relay saw it.
pub struct Request<'a> {
    /// The signing name (`states`, `cloudformation`); None if unsigned.
    pub service: Option<&'a str>,
    /// `states:StartExecution`.
    pub operation: &'a str,
    /// The operation's name alone (`StartExecution`).
    pub action: &'a str,
    pub wire: Wire,
    pub method: &'a hyper::Method,
    pub uri: &'a hyper::Uri,
    pub headers: &'a hyper::HeaderMap,
    pub body: &'a [u8],
}

/// A refused request: what the relay answers instead of forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub operation: String,
    /// The error code the caller gets (`ValidationException`).
    pub code: String,
    /// AWS's message (may quote the values refused).
    pub message: String,
    /// What failed, without values (a refused value may be a secret).
    pub summary: Vec<String>,
    /// The AWS JSON version of the service's errors (JSON only).
    pub json_version: Option<String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} refused with {}: {}",
            self.operation,
            self.code,
            self.summary.join("; ")
        )
    }
}

/// What the checks have done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksReport {
    /// Requests checked against a model (or S3's documented limits).
    pub checked: u64,
    /// The same, by service (signing name).
    pub checked_by_service: BTreeMap<String, u64>,
    /// Requests not checked, by why.
    pub unchecked: BTreeMap<String, u64>,
    pub refused: u64,
    /// Model patterns regex-lite could not compile, in the models read.
    pub patterns_skipped: usize,
    /// Where the models are read from; None: nowhere (no MiniStack).
    pub models: Option<std::path::PathBuf>,
}

impl std::fmt::Display for ChecksReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.models.is_none() {
            return write!(
                f,
                "requests not checked against the AWS API models: no botocore data found \
                 (install MiniStack with scripts/setup, or set {})",
                model::DATA_DIR_VAR
            );
        }
        let by_service: Vec<String> = self
            .checked_by_service
            .iter()
            .map(|(service, n)| format!("{service} {n}"))
            .collect();
        write!(
            f,
            "{} requests checked against the AWS API models ({}), {} refused",
            self.checked,
            by_service.join(", "),
            self.refused
        )?;
        if !self.unchecked.is_empty() {
            let unchecked: Vec<String> = self
                .unchecked
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            write!(f, "; not checked: {}", unchecked.join(", "))?;
        }
        if self.patterns_skipped > 0 {
            write!(
                f,
                "; {} model patterns not checked (Java-only syntax)",
                self.patterns_skipped
            )?;
        }
        Ok(())
    }
}

/// The relay's checks: shared by its connections, read by the tests.
pub struct Checks {
    models: &'static Models,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    checked: u64,
    checked_by_service: BTreeMap<String, u64>,
    unchecked: BTreeMap<String, u64>,
    refusals: Vec<Refusal>,
    refused: u64,
    services: BTreeSet<String>,
    executions: BTreeSet<String>,
}

impl Default for Checks {
    fn default() -> Self {
        Self::new(Models::shared())
    }
}

impl Checks {
    pub fn new(models: &'static Models) -> Self {
        Self {
            models,
            state: Mutex::new(State::default()),
        }
    }

    /// Checks `request`; `Some` when AWS would refuse it (then recorded).
    pub fn check(&self, request: &Request) -> Option<Refusal> {
        let outcome = self.judge(request);
        let mut state = self.state.lock().expect("checks lock poisoned");
        if !matches!(outcome, Judged::Unchecked(_)) {
            state.checked += 1;
            let service = request.service.unwrap_or_default().to_string();
            *state.checked_by_service.entry(service).or_default() += 1;
        }
        match outcome {
            Judged::Unchecked(why) => {
                *state.unchecked.entry(why).or_default() += 1;
                None
            }
            Judged::Passed => None,
            Judged::Refused(refusal) => {
                state.refused += 1;
                tracing::warn!(%refusal, "the playground refused a request as AWS would");
                state.refusals.push(refusal.clone());
                Some(refusal)
            }
        }
    }

    fn judge(&self, request: &Request) -> Judged {
        let Some(service) = request.service else {
            return Judged::Unchecked("unsigned".into());
        };
        if request.wire == Wire::RestXml {
            if service != "s3" {
                let protocol = if request.headers.contains_key("smithy-protocol") {
                    "Smithy RPC v2 CBOR"
                } else {
                    "REST"
                };
                return Judged::Unchecked(format!("{service} ({protocol})"));
            }
            return match s3::check(
                request.method,
                request.uri.path(),
                request.uri.query(),
                request.headers,
            ) {
                None => Judged::Passed,
                Some(refused) => Judged::Refused(Refusal {
                    operation: request.operation.into(),
                    code: refused.code.into(),
                    message: refused.message.into(),
                    summary: vec![refused.summary],
                    json_version: None,
                }),
            };
        }
        let Some(model) = self.models.get(service) else {
            return Judged::Unchecked(format!("{service} (no model)"));
        };
        {
            let mut state = self.state.lock().expect("checks lock poisoned");
            if !state.services.contains(service) {
                state.services.insert(service.to_string());
            }
        }
        let Some(input) = model.input_of(request.action) else {
            return Judged::Unchecked(format!("{service} (operation not in the model)"));
        };
        let Some(shape) = input else {
            return Judged::Passed;
        };
        let value = match (request.wire, model.protocol) {
            (Wire::Json, ModelProtocol::Json) => {
                if request.body.is_empty() {
                    Value::Object(Default::default())
                } else {
                    match serde_json::from_slice(request.body) {
                        Ok(value) => value,
                        Err(_) => return Judged::Unchecked(format!("{service} (body not JSON)")),
                    }
                }
            }
            (Wire::Query, ModelProtocol::Query) => {
                query::to_json(&model, shape, &query::parse_form(request.body))
            }
            _ => return Judged::Unchecked(format!("{service} (protocol not the model's)")),
        };
        let violations = validate::validate(&model, shape, &value);
        if violations.is_empty() {
            return Judged::Passed;
        }
        let (code, json_version) = match model.protocol {
            ModelProtocol::Json => ("ValidationException", Some(model.json_version.clone())),
            _ => ("ValidationError", None),
        };
        Judged::Refused(Refusal {
            operation: request.operation.into(),
            code: code.into(),
            message: validate::message(&violations),
            summary: violations
                .iter()
                .map(validate::Violation::summary)
                .collect(),
            json_version,
        })
    }

    /// Notes an answer the playground gave: the executions started, so the
    /// end of a test can check their histories.
    pub fn saw_answer(&self, operation: &str, status: hyper::StatusCode, body: &[u8]) {
        if !status.is_success()
            || !matches!(
                operation,
                "states:StartExecution" | "states:StartSyncExecution"
            )
        {
            return;
        }
        if let Ok(answer) = serde_json::from_slice::<Value>(body)
            && let Some(arn) = answer["executionArn"].as_str()
        {
            self.state
                .lock()
                .expect("checks lock poisoned")
                .executions
                .insert(arn.to_string());
        }
    }

    /// Executions started through the relay.
    pub fn started_executions(&self) -> Vec<String> {
        let state = self.state.lock().expect("checks lock poisoned");
        state.executions.iter().cloned().collect()
    }

    /// The refusals not taken yet, taken: a test that expects refusals
    /// takes them, so the end of the test finds only the unexpected ones.
    pub fn take_refusals(&self) -> Vec<Refusal> {
        std::mem::take(&mut self.state.lock().expect("checks lock poisoned").refusals)
    }

    pub fn report(&self) -> ChecksReport {
        let state = self.state.lock().expect("checks lock poisoned");
        let patterns_skipped = state
            .services
            .iter()
            .filter_map(|service| self.models.get(service))
            .map(|model| model.patterns_skipped.len())
            .sum();
        ChecksReport {
            checked: state.checked,
            checked_by_service: state.checked_by_service.clone(),
            unchecked: state.unchecked.clone(),
            refused: state.refused,
            patterns_skipped,
            models: self.models.data_dir().map(std::path::Path::to_path_buf),
        }
    }
}

enum Judged {
    Passed,
    Unchecked(String),
    Refused(Refusal),
}
