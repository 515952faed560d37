//! `cpsf demo`'s flags; the demo itself is `crate::demo`. Built with the
//! `playground` feature only: the demo runs on the playground.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub(super) struct DemoArgs {
    /// Leave the playground and the worker running afterwards (Ctrl-C stops them).
    #[arg(long)]
    keep: bool,
    /// With --keep: where to write the playground's `export` lines.
    #[arg(long, default_value = ".cpsf/local.env")]
    env_file: PathBuf,
    /// The AWS emulator of the playground the demo starts (unless the
    /// environment names a running one).
    #[arg(long, value_enum, env = cpsf_playground::emulator::ENV_VAR, default_value_t)]
    emulator: cpsf_playground::Emulator,
    /// Instead of the four runs, roll the app out to two accounts × two
    /// regions in three waves, with live progress per target (MiniStack).
    #[arg(long)]
    targets: bool,
    /// Instead of the four runs, deploy three branch environments from one
    /// pipeline, list them, tear one down, and prune (a dry run, then for
    /// real).
    #[arg(long, conflicts_with = "targets")]
    environments: bool,
    /// Instead of the four runs, a risky change approved by link: the
    /// notification, the page, the decision (the demo's own on the page,
    /// or, with --keep on a terminal, yours: on the page or with `cpsf
    /// approve`), the deploy going on.
    #[arg(long, conflicts_with_all = ["targets", "environments"])]
    approval: bool,
    /// Instead of the four runs, a Lambda alias's new version taking the
    /// traffic in steps with bakes, then a release rolled back by an
    /// alarm during its bake (MiniStack).
    #[arg(long, conflicts_with_all = ["targets", "environments", "approval"])]
    canary: bool,
}

pub(super) async fn run(args: DemoArgs) -> Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            cpsf_worker::shutdown::signal().await;
            shutdown.cancel();
        }
    });
    let options = crate::demo::DemoOptions {
        keep: args.keep,
        emulator: args.emulator,
        env_file: args.env_file,
        targets: args.targets,
        environments: args.environments,
        approval: args.approval,
        canary: args.canary,
    };
    if crate::demo::run(options, shutdown).await? {
        Ok(())
    } else {
        anyhow::bail!("the demo's runs did not all do what they should (see the summary above)")
    }
}
