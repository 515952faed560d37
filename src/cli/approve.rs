//! `cpsf approve`: the decision for people with AWS access, from a shell,
//! the same one decision the approval page makes (`approval::decision`).

use crate::approval::decision::{self, Outcome};
use crate::approval::service::{now, when};
use crate::approval::store::{Decision, Store};
use crate::aws::Clients;
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
    let arn = crate::history::fetch::resolve(&clients, &args.target, None).await?;
    let store = Store::new(clients.s3(), &args.approval_store).map_err(anyhow::Error::msg)?;
    let record = store
        .for_execution(&arn)
        .await?
        .with_context(|| format!("no approval waits for {arn}"))?;
    if let Some(first) = store.decision(&record.id).await? {
        bail!("{arn}: already decided ({})", first.said());
    }
    if record.expires_at <= now() {
        bail!("{arn}: the approval expired at {}", when(record.expires_at));
    }
    let name = args
        .name
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.trim().is_empty())
        .context("say who decides with --name")?;
    anyhow::ensure!(
        name.chars().count() <= decision::MAX_NAME_CHARS
            && args.comment.chars().count() <= decision::MAX_COMMENT_CHARS,
        "--name takes at most {} characters and --comment {}",
        decision::MAX_NAME_CHARS,
        decision::MAX_COMMENT_CHARS
    );
    let made = Decision {
        approved: !args.reject,
        by: name,
        comment: args.comment,
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
        Outcome::TaskEnded(why) => bail!("{arn}: the deploy no longer waits ({why})"),
    }
}
