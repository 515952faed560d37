//! Which calls the proxy fails, and how: a plan drawn from at random for
//! each call.

use std::time::Duration;

/// A way for a call to go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Refused before it took effect, with the service's throttling error.
    Throttled,
    /// Refused before it took effect with a 5xx.
    ServerError,
    /// Forwarded and applied, then the connection is closed without an
    /// answer: the caller cannot know it took effect.
    Dropped,
    /// Forwarded after a pause.
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 4] = [
        Fault::Throttled,
        Fault::ServerError,
        Fault::Dropped,
        Fault::Slow,
    ];
}

/// Which share of calls fail, and how.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    /// 0.0 (none) to 1.0 (every call).
    pub rate: f64,
    /// Chosen from at random for each failing call.
    pub kinds: Vec<Fault>,
    /// How long a [`Fault::Slow`] call waits.
    pub slow_by: Duration,
    /// Operations (`service:Operation`) whose answers are never dropped.
    pub never_dropped: Vec<String>,
}

impl FaultPlan {
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            kinds: Vec::new(),
            slow_by: Duration::ZERO,
            never_dropped: Vec::new(),
        }
    }

    /// Every kind of fault, on `rate` of the calls.
    pub fn all_kinds(rate: f64) -> Self {
        Self {
            rate,
            kinds: Fault::ALL.to_vec(),
            slow_by: Duration::from_secs(1),
            never_dropped: Vec::new(),
        }
    }

    /// Every kind of fault that `emulator` can recover from as AWS would.
    ///
    /// A dropped answer means the call took effect and the caller retries
    /// it. Two such retries depend on AWS behaviour that one emulator lacks
    /// (docs/emulators.md), so their answers are never dropped there:
    /// - GetActivityTask on MiniStack: on AWS a task whose answer was lost
    ///   times out after the state's HeartbeatSeconds and is handed out
    ///   again (Step Functions developer guide, "Activities"); MiniStack
    ///   enforces no activity timeout, so the task would wait forever.
    /// - CreateStack on fakecloud: on AWS the retried create with the same
    ///   ClientRequestToken is the same request (API reference,
    ///   CreateStack); fakecloud answers AlreadyExists and records no token
    ///   on the stack's events, so cpsf cannot tell the stack is its own.
    pub fn all_kinds_on(rate: f64, emulator: crate::Emulator) -> Self {
        let mut plan = Self::all_kinds(rate);
        plan.never_dropped.push(
            match emulator {
                crate::Emulator::Ministack => "states:GetActivityTask",
                crate::Emulator::Fakecloud => "cloudformation:CreateStack",
            }
            .into(),
        );
        plan
    }

    pub(super) fn pick(&self, operation: &str) -> Option<Fault> {
        if self.kinds.is_empty() || rand::random::<f64>() >= self.rate {
            return None;
        }
        let fault = self.kinds[rand::random_range(0..self.kinds.len())];
        let spared = fault == Fault::Dropped && self.never_dropped.iter().any(|o| o == operation);
        (!spared).then_some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Emulator;

    #[test]
    fn a_plan_without_kinds_or_rate_never_fails_a_call() {
        assert!((0..1000).all(|_| FaultPlan::none().pick("s3:GET").is_none()));
        assert!((0..1000).all(|_| FaultPlan::all_kinds(0.0).pick("s3:GET").is_none()));
        assert!((0..1000).all(|_| FaultPlan::all_kinds(1.0).pick("s3:GET").is_some()));
    }

    #[test]
    fn each_emulator_is_spared_the_dropped_answers_it_cannot_recover_from() {
        let (poll, create) = ("states:GetActivityTask", "cloudformation:CreateStack");
        let drops = |plan: &FaultPlan, operation: &str| {
            (0..1000)
                .filter(|_| plan.pick(operation) == Some(Fault::Dropped))
                .count()
        };
        let ministack = FaultPlan::all_kinds_on(1.0, Emulator::Ministack);
        let fakecloud = FaultPlan::all_kinds_on(1.0, Emulator::Fakecloud);
        assert_eq!(drops(&ministack, poll), 0);
        assert!(drops(&ministack, create) > 0);
        assert_eq!(drops(&fakecloud, create), 0);
        assert!(drops(&fakecloud, poll) > 0);
        assert!(drops(&fakecloud, "states:SendTaskSuccess") > 0);
    }
}
