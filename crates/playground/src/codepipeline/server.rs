//! HTTP front of the local CodePipeline service: one `POST /` route that
//! dispatches on `X-Amz-Target`, and the runner for queued effects.

use super::executions::ActionOutcome;
use super::jobs::JobTiming;
use super::protocol::{ApiError, ApiResult, TARGET_PREFIX};
use super::store::{Config, Effect, Store};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cpsf_worker::pipeline::wire::ErrorDetails;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The running service: its state and the S3 client that runs source actions.
#[derive(Clone)]
pub struct LocalCodePipeline {
    store: Arc<Mutex<Store>>,
    s3: aws_sdk_s3::Client,
    /// Where action state change events go (`events.rs`), if anywhere.
    events: Option<aws_sdk_eventbridge::Client>,
}

impl LocalCodePipeline {
    /// `s3` must reach the S3 that holds source objects and artifact stores
    /// (fakecloud on the playground).
    pub fn new(config: Config, s3: aws_sdk_s3::Client) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store::new(config))),
            s3,
            events: None,
        }
    }

    /// Puts each action's state changes on `events`' default bus, as
    /// CodePipeline does (under the playground's source: `events.rs`).
    pub fn with_events(mut self, events: aws_sdk_eventbridge::Client) -> Self {
        self.events = Some(events);
        self
    }

    pub fn router(self) -> Router {
        Router::new()
            .route("/", post(handle))
            .route("/_cpsf/jobs", axum::routing::get(job_timings))
            .with_state(self)
    }

    /// Serves on `listener` until `shutdown` is cancelled.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }

    /// Runs one operation; the lock is held only while state changes, never
    /// across network I/O.
    pub fn call(&self, operation: &str, input: Value) -> ApiResult {
        let now = SystemTime::now();
        let (result, effects, events) = {
            let mut store = self.store.lock().expect("store lock poisoned");
            store.sweep(now);
            let result = dispatch(&mut store, operation, input, now);
            (result, store.take_effects(), store.take_events())
        };
        self.put_events(events);
        for effect in effects {
            tokio::spawn(self.clone().run_effect(effect));
        }
        result
    }

    /// Carries out effects one after another; finishing one may queue more
    /// (a source action that succeeds launches the next stage).
    async fn run_effect(self, effect: Effect) {
        let mut queue = vec![effect];
        while let Some(Effect::CopySource {
            execution_id,
            action_execution_id,
            source_bucket,
            source_key,
            artifact,
        }) = queue.pop()
        {
            let dest = &artifact.location.s3_location;
            let copied = copy_object(
                &self.s3,
                &source_bucket,
                &source_key,
                &dest.bucket_name,
                &dest.object_key,
            )
            .await;
            let outcome = match copied {
                Ok(object) => ActionOutcome::Succeeded {
                    revision: Some(object.revision()),
                    variables: object.variables(),
                },
                Err(message) => {
                    tracing::warn!(%source_bucket, %source_key, %message, "source action failed");
                    ActionOutcome::Failed(ErrorDetails {
                        code: "SourceError".into(),
                        message,
                    })
                }
            };
            let mut store = self.store.lock().expect("store lock poisoned");
            store.finish_action(
                &execution_id,
                &action_execution_id,
                outcome,
                SystemTime::now(),
            );
            queue.extend(store.take_effects());
            self.put_events(store.take_events());
        }
    }

    /// Puts `events` in order, ten an entry batch (PutEvents' limit), in a
    /// task of their own: a slow or failing EventBridge never holds up the
    /// API. A failure is logged and dropped, as AWS's delivery is best
    /// effort.
    fn put_events(&self, events: Vec<super::events::ActionEvent>) {
        let Some(client) = self.events.clone() else {
            return;
        };
        if events.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for batch in events.chunks(10) {
                let entries = batch.iter().map(|event| {
                    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                        .source(super::events::PLAYGROUND_SOURCE)
                        .detail_type(super::events::DETAIL_TYPE)
                        .detail(event.detail.to_string())
                        .set_resources(Some(event.resources.clone()))
                        .build()
                });
                let put = client
                    .put_events()
                    .set_entries(Some(entries.collect()))
                    .send()
                    .await;
                match put {
                    Ok(output) if output.failed_entry_count() > 0 => {
                        tracing::warn!(
                            failed = output.failed_entry_count(),
                            "EventBridge refused action events"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(
                        error = %aws_sdk_eventbridge::error::DisplayErrorContext(error),
                        "could not put action events"
                    ),
                }
            }
        });
    }
}

/// What the S3 source action read: the object's ETag, and its version when
/// the bucket is versioned.
struct SourceObject {
    e_tag: Option<String>,
    version_id: Option<String>,
}

impl SourceObject {
    /// The artifact's revision: the object version, else its ETag.
    fn revision(&self) -> String {
        self.version_id
            .clone()
            .or(self.e_tag.clone())
            .unwrap_or_default()
    }

    /// The S3 source action's output variables, `ETag` and `VersionId`
    /// (user guide, "Amazon S3 source action reference": Output variables).
    fn variables(&self) -> BTreeMap<String, String> {
        [("ETag", &self.e_tag), ("VersionId", &self.version_id)]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.clone()?)))
            .collect()
    }
}

/// Copies the source object into the artifact store.
async fn copy_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    dest_bucket: &str,
    dest_key: &str,
) -> Result<SourceObject, String> {
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "Could not read s3://{bucket}/{key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
    let source = SourceObject {
        e_tag: object.e_tag().map(|t| t.trim_matches('"').to_string()),
        version_id: object.version_id().map(str::to_string),
    };
    let body = object
        .body
        .collect()
        .await
        .map_err(|e| format!("Could not read s3://{bucket}/{key}: {e}"))?;
    s3.put_object()
        .bucket(dest_bucket)
        .key(dest_key)
        .body(body.into_bytes().into())
        .send()
        .await
        .map_err(|e| {
            format!(
                "Could not write the artifact to s3://{dest_bucket}/{dest_key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })?;
    Ok(source)
}

fn dispatch(store: &mut Store, operation: &str, input: Value, now: SystemTime) -> ApiResult {
    match operation {
        "CreateCustomActionType" => store.create_custom_action_type(input),
        "ListActionTypes" => store.list_action_types(input),
        "DeleteCustomActionType" => store.delete_custom_action_type(input),
        "CreatePipeline" => store.create_pipeline(input, now),
        "GetPipeline" => store.get_pipeline(input),
        "UpdatePipeline" => store.update_pipeline(input, now),
        "DeletePipeline" => store.delete_pipeline(input),
        "ListPipelines" => store.list_pipelines(input),
        "StartPipelineExecution" => store.start_pipeline_execution(input, now),
        "StopPipelineExecution" => store.stop_pipeline_execution(input, now),
        "GetPipelineExecution" => store.get_pipeline_execution(input),
        "ListPipelineExecutions" => store.list_pipeline_executions(input),
        "GetPipelineState" => store.get_pipeline_state(input),
        "ListActionExecutions" => store.list_action_executions(input),
        "PollForJobs" => store.poll_for_jobs(input, now),
        "AcknowledgeJob" => store.acknowledge_job(input, now),
        "GetJobDetails" => store.get_job_details(input),
        "PutJobSuccessResult" => store.put_job_success_result(input, now),
        "PutJobFailureResult" => store.put_job_failure_result(input, now),
        other => Err(ApiError::new(
            "UnknownOperationException",
            format!("The local CodePipeline service does not implement {other}"),
        )),
    }
}

async fn handle(
    State(service): State<LocalCodePipeline>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return error_response(ApiError::new(
            "UnknownOperationException",
            format!("X-Amz-Target must start with {TARGET_PREFIX}"),
        ));
    };
    let input: Value = if body.is_empty() {
        Value::Object(Default::default())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error_response(ApiError::new(
                    "SerializationException",
                    format!("The request body is not valid JSON: {e}"),
                ));
            }
        }
    };
    tracing::debug!(operation, "codepipeline request");
    match service.call(operation, input) {
        Ok(mut output) => {
            strip_nulls(&mut output);
            json_response(StatusCode::OK, &output)
        }
        Err(error) => {
            tracing::debug!(operation, code = error.code, message = %error.message, "codepipeline error");
            error_response(error)
        }
    }
}

fn error_response(error: ApiError) -> Response {
    // AWS answers its own failures with 5xx (retried by SDKs), the
    // caller's with 400.
    let status = if error.code == "InternalFailure" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    json_response(status, &error.body())
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// AWS omits absent members rather than sending `null`.
fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Every job's queued/dispatched/acknowledged/answered times, for
/// benchmarks (not an AWS API).
async fn job_timings(State(service): State<LocalCodePipeline>) -> axum::Json<Vec<JobTiming>> {
    let store = service.store.lock().expect("store lock poisoned");
    axum::Json(store.job_timings())
}
