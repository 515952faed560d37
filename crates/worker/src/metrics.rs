//! The worker's Prometheus metrics, served at `/metrics` by `health.rs`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// succeeded, failed, continued, abandoned, report_failed
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    /// check-stack, create-stack, update-stack, delete-stack, wait-stack
    pub handler: String,
    /// succeeded, failed
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabel {
    /// check-stack, create-stack, update-stack, delete-stack, wait-stack
    pub handler: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PollLabel {
    /// jobs, empty, error
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub operation: String,
}

/// Cheap to clone: every handle points at the same metrics.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    jobs: Family<OutcomeLabel, Counter>,
    tasks: Family<TaskLabel, Counter>,
    slots: Family<HandlerLabel, Gauge>,
    slots_busy: Family<HandlerLabel, Gauge>,
    slots_full: Family<HandlerLabel, Counter<f64, AtomicU64>>,
    in_flight: Gauge,
    polls: Family<PollLabel, Counter>,
    aws_errors: Family<OperationLabel, Counter>,
    pickup_latency: Histogram,
    completion_latency: Histogram,
    job_duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("cpsf");
        let jobs = Family::<OutcomeLabel, Counter>::default();
        let tasks = Family::<TaskLabel, Counter>::default();
        let slots = Family::<HandlerLabel, Gauge>::default();
        let slots_busy = Family::<HandlerLabel, Gauge>::default();
        let slots_full = Family::<HandlerLabel, Counter<f64, AtomicU64>>::default();
        let in_flight = Gauge::default();
        let polls = Family::<PollLabel, Counter>::default();
        let aws_errors = Family::<OperationLabel, Counter>::default();
        // 10 ms .. ~80 s
        let latency = || Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let pickup_latency = latency();
        let completion_latency = latency();
        let job_duration = latency();
        registry.register("jobs", "Jobs handled, by outcome", jobs.clone());
        registry.register(
            "tasks",
            "Activity tasks handled, by handler and outcome",
            tasks.clone(),
        );
        registry.register(
            "task_slots",
            "Tasks of each activity handled at once, at most",
            slots.clone(),
        );
        registry.register(
            "task_slots_busy",
            "Tasks of each activity being handled now",
            slots_busy.clone(),
        );
        registry.register(
            "task_slots_full_seconds",
            "Time all of an activity's slots were busy: a task arriving then waits in Step Functions",
            slots_full.clone(),
        );
        registry.register(
            "jobs_in_flight",
            "Jobs being handled now",
            in_flight.clone(),
        );
        registry.register("polls", "PollForJobs calls, by result", polls.clone());
        registry.register(
            "aws_errors",
            "AWS calls that failed after the SDK's retries",
            aws_errors.clone(),
        );
        registry.register(
            "pickup_latency_seconds",
            "From handing a continuation back to acknowledging its next job",
            pickup_latency.clone(),
        );
        registry.register(
            "completion_latency_seconds",
            "From the execution's end to the result reported to CodePipeline",
            completion_latency.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "Time spent on one job",
            job_duration.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                jobs,
                tasks,
                slots,
                slots_busy,
                slots_full,
                in_flight,
                polls,
                aws_errors,
                pickup_latency,
                completion_latency,
                job_duration,
            }),
        }
    }
}

impl Metrics {
    pub fn job(&self, outcome: &str) {
        self.inner
            .jobs
            .get_or_create(&OutcomeLabel {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn task(&self, handler: &str, outcome: &str) {
        self.inner
            .tasks
            .get_or_create(&TaskLabel {
                handler: handler.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    /// The slot limit of `handler`'s activity.
    pub fn task_slots(&self, handler: &str) -> Gauge {
        self.inner
            .slots
            .get_or_create(&handler_label(handler))
            .clone()
    }

    /// Tasks of `handler`'s activity being handled now.
    pub fn task_slots_busy(&self, handler: &str) -> Gauge {
        self.inner
            .slots_busy
            .get_or_create(&handler_label(handler))
            .clone()
    }

    /// Seconds all of `handler`'s slots were busy.
    pub fn task_slots_full(&self, handler: &str) -> Counter<f64, AtomicU64> {
        self.inner
            .slots_full
            .get_or_create(&handler_label(handler))
            .clone()
    }

    pub fn in_flight(&self) -> &Gauge {
        &self.inner.in_flight
    }

    pub fn poll(&self, result: &str) {
        self.inner
            .polls
            .get_or_create(&PollLabel {
                result: result.into(),
            })
            .inc();
    }

    pub fn aws_error(&self, operation: &str) {
        self.inner
            .aws_errors
            .get_or_create(&OperationLabel {
                operation: operation.into(),
            })
            .inc();
    }

    pub fn pickup_latency(&self, seconds: f64) {
        self.inner.pickup_latency.observe(seconds.max(0.0));
    }

    pub fn completion_latency(&self, seconds: f64) {
        self.inner.completion_latency.observe(seconds.max(0.0));
    }

    pub fn job_duration(&self, seconds: f64) {
        self.inner.job_duration.observe(seconds.max(0.0));
    }

    /// The text exposition format Prometheus scrapes.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

fn handler_label(handler: &str) -> HandlerLabel {
    HandlerLabel {
        handler: handler.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_exposed_with_labels() {
        let metrics = Metrics::default();
        metrics.job("succeeded");
        metrics.job("succeeded");
        metrics.poll("empty");
        metrics.task("wait-stack", "failed");
        metrics.completion_latency(0.5);
        metrics.task_slots("wait-stack").set(512);
        metrics.task_slots_busy("wait-stack").inc();
        metrics.task_slots_full("check-stack").inc_by(1.5);
        let text = metrics.encode();
        assert!(
            text.contains("cpsf_jobs_total{outcome=\"succeeded\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_polls_total{result=\"empty\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_tasks_total{handler=\"wait-stack\",outcome=\"failed\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_completion_latency_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_task_slots{handler=\"wait-stack\"} 512"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_task_slots_busy{handler=\"wait-stack\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("cpsf_task_slots_full_seconds_total{handler=\"check-stack\"} 1.5"),
            "{text}"
        );
    }
}
