//! `cpsf approve`: the decision for people with AWS access, from a shell,
//! the same one decision the approval page makes (`approval::decision`).

use crate::approval::decision::{self, Outcome};
use crate::approval::service::{now, when};
use crate::approval::store::{Decision, Record, Sent, Store};
use crate::aws::Clients;
use crate::base::plain::plain;
use anyhow::{Context, Result, bail};
use clap::Args;

#[derive(Args)]
pub struct ApproveArgs {
    /// The waiting deploy: an execution ARN, or a pipeline name (its
    /// newest cpsf action execution).
    target: String,
    /// Reject the change set instead of approving it.
    #[arg(long)]
    reject: bool,
    /// Why: shown in the pipeline with the decision.
    #[arg(long, default_value = "")]
    comment: String,
    /// Who decides, as the pipeline shows it. Default: $USER.
    #[arg(long)]
    name: Option<String>,
    /// Where the worker keeps approvals (its --approval-store).
    #[arg(long, env = "CPSF_APPROVAL_STORE", value_name = "S3_URI")]
    approval_store: String,
}

pub async fn run(args: ApproveArgs) -> Result<()> {
    let sdk = crate::aws::load_checked(None).await?;
    let clients = Clients::new(&sdk);
    let store = Store::new(clients.s3(), &args.approval_store).map_err(anyhow::Error::msg)?;
    let arn = match args.target.starts_with("arn:") {
        true => crate::history::fetch::resolve(&clients, &args.target, None).await?,
        false => match waiting_in(&store.pending().await?, &args.target, now())
            .map_err(anyhow::Error::msg)?
        {
            Some(arn) => arn,
            // Nothing waits: say what the pipeline's newest execution is.
            None => crate::history::fetch::resolve(&clients, &args.target, None).await?,
        },
    };
    // Only a record that names this execution (`Store::for_execution`).
    let record = store
        .for_execution(&arn)
        .await?
        .with_context(|| format!("no approval waits for {arn}"))?;
    // A kept decision Step Functions has not confirmed may be sent again
    // (`decision::apply` says whether this one may).
    if let Some(first) = store.decision(&record.id).await?
        && first.sent != Sent::Unconfirmed
    {
        bail!("{arn}: already decided ({})", first.said());
    }
    if record.expires_at <= now() {
        bail!("{arn}: the approval expired at {}", when(record.expires_at));
    }
    // Plain text, as on the page: they become output variables.
    let name = args
        .name
        .or_else(|| std::env::var("USER").ok())
        .map(|n| plain(&n))
        .filter(|n| !n.is_empty())
        .context("say who decides with --name")?;
    let comment = plain(&args.comment);
    anyhow::ensure!(
        name.chars().count() <= decision::MAX_NAME_CHARS
            && comment.chars().count() <= decision::MAX_COMMENT_CHARS,
        "--name takes at most {} characters and --comment {}",
        decision::MAX_NAME_CHARS,
        decision::MAX_COMMENT_CHARS
    );
    let made = Decision {
        approved: !args.reject,
        by: name,
        comment,
        at: now(),
        via: "cpsf approve".into(),
    };
    match decision::apply(&store, &clients.sfn, &record, made).await? {
        Outcome::Answered(decision) => {
            println!(
                "{}: {} ({})",
                record.request.stack_name,
                decision.said(),
                arn
            );
            Ok(())
        }
        Outcome::AlreadyDecided(first) => bail!("{arn}: already decided ({})", first.said()),
        Outcome::TaskEnded(why) => bail!("{arn}: the deploy no longer waits: {why}"),
        Outcome::Unconfirmed { decision, error } => bail!(
            "{arn}: {} is kept, but Step Functions did not confirm it ({error}); \
             run the same command again to send it again (the other choice cannot follow)",
            decision.said()
        ),
    }
}

/// The execution whose approval waits for a decision in pipeline
/// `pipeline`, from the store's `pending` approvals: the one the worker
/// keeps as soon as RequestApproval asks. The pipeline's own record of the
/// execution comes later, with the job's first report (CodePipeline's
/// ListActionExecutions shows an action's externalExecutionId once its job
/// worker reports it, PutJobSuccessResult executionDetails), which may be
/// minutes into the wait; until then the pipeline's newest execution with
/// an ARN is an older run's. None when none waits; every one when several
/// do (a pipeline in PARALLEL mode), for the user to name one.
fn waiting_in(pending: &[Record], pipeline: &str, now: u64) -> Result<Option<String>, String> {
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
