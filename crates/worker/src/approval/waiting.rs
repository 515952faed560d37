//! Which approval waits for a decision in a pipeline, from the store's
//! pending records (pure): how `cpsf approve PIPELINE` finds the execution
//! to decide on.

use super::store::Record;

/// The execution whose approval waits for a decision in pipeline
/// `pipeline`, from the store's `pending` approvals: the one the worker
/// keeps as soon as RequestApproval asks. The pipeline's own record of the
/// execution comes later, with the job's first report (CodePipeline's
/// ListActionExecutions shows an action's externalExecutionId once its job
/// worker reports it, PutJobSuccessResult executionDetails), which may be
/// minutes into the wait; until then the pipeline's newest execution with
/// an ARN is an older run's. None when none waits; every one when several
/// do (a pipeline in PARALLEL mode), for the user to name one.
pub fn waiting_in(pending: &[Record], pipeline: &str, now: u64) -> Result<Option<String>, String> {
    let waiting: Vec<&Record> = pending
        .iter()
        .filter(|r| r.request.pipeline.as_deref() == Some(pipeline) && r.expires_at > now)
        .collect();
    match waiting.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.execution_arn.clone())),
        several => Err(format!(
            "{} approvals wait in pipeline {pipeline}; name one by its execution ARN: {}",
            several.len(),
            several
                .iter()
                .map(|r| r.execution_arn.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(execution: &str, pipeline: Option<&str>, expires_at: u64) -> Record {
        let mut request = crate::approval::ask::test_request(&[], "x");
        request.pipeline = pipeline.map(str::to_string);
        Record {
            id: execution.into(),
            execution_arn: execution.into(),
            task_token: "token".into(),
            request,
            requested_at: 0,
            expires_at,
            notified: true,
        }
    }

    /// The approval waiting in the pipeline, found by the store alone:
    /// another pipeline's, or an expired one, does not count.
    #[test]
    fn a_pipelines_waiting_approval_is_found_in_the_store() {
        let pending = [
            waiting("arn:e:other", Some("other"), 100),
            waiting("arn:e:old", Some("shop"), 10),
            waiting("arn:e:now", Some("shop"), 100),
            waiting("arn:e:unnamed", None, 100),
        ];
        assert_eq!(
            waiting_in(&pending, "shop", 50),
            Ok(Some("arn:e:now".to_string()))
        );
        assert_eq!(waiting_in(&pending, "none", 50), Ok(None));
        let two = waiting_in(&pending, "shop", 5).unwrap_err();
        assert!(
            two.contains("2 approvals wait in pipeline shop")
                && two.contains("arn:e:old, arn:e:now"),
            "{two}"
        );
    }
}
