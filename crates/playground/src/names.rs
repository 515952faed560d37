//! The names `cpsf local up` and `cpsf demo` use on the playground: the
//! stacks the worker may deploy, the artifact bucket, the second account,
//! and what the worker's role may reach of them.

/// The pipelines' artifact bucket.
pub const ARTIFACT_BUCKET: &str = "cpsf-demo-artifacts";
/// The stacks the worker may deploy and tear down.
pub const STACK_PREFIX: &str = "cpsf-demo-";
/// The second account of the demo. The playground installs
/// bootstrap/target-account.yaml there (`local/worker_role.rs`), whose role
/// trusts the worker's, as on AWS.
pub const FAR_ACCOUNT: &str = "222222222222";

/// What the worker's role may reach on a playground `cpsf demo` or `cpsf
/// local up` starts (`local/worker_role.rs`): the demo's stacks and
/// artifact bucket, and the account `--targets` rolls out to.
pub fn worker_grants() -> super::worker_role::Grants {
    super::worker_role::Grants {
        stack_prefix: STACK_PREFIX.into(),
        artifact_bucket: ARTIFACT_BUCKET.into(),
        journal_bucket: "cpsf-demo-journal".into(),
        staging_bucket: "cpsf-demo-staging".into(),
        target_accounts: vec![FAR_ACCOUNT.into()],
        approval_topics: Vec::new(),
    }
}
