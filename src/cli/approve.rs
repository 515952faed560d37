//! `cpsf approve`: the decision for people with AWS access, from a shell,
//! the same one decision the approval page makes (`approval::decision`).

use anyhow::{Context, Result, bail};
use clap::Args;
use cpsf_worker::approval::decision::{self, Outcome};
use cpsf_worker::approval::service::{now, when};
use cpsf_worker::approval::store::{Decision, Sent, Store};
use cpsf_worker::approval::waiting::waiting_in;
use cpsf_worker::aws::Clients;
use cpsf_worker::base::plain::plain;

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
    let sdk = cpsf_worker::aws::load_checked(None).await?;
    let clients = Clients::new(&sdk);
    let store = Store::new(clients.s3(), &args.approval_store).map_err(anyhow::Error::msg)?;
    let arn = match args.target.starts_with("arn:") {
        true => cpsf_worker::history::fetch::resolve(&clients, &args.target, None).await?,
        false => match waiting_in(&store.pending().await?, &args.target, now())
            .map_err(anyhow::Error::msg)?
        {
            Some(arn) => arn,
            // Nothing waits: say what the pipeline's newest execution is.
            None => cpsf_worker::history::fetch::resolve(&clients, &args.target, None).await?,
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
