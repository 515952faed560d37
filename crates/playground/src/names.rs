//! The names `cpsf local up` and `cpsf demo` use on the playground: the
//! account and region, the stacks the worker may deploy, the artifact
//! bucket, the second account. (What the worker's role may reach of them
//! is `worker_role::Grants::playground`.)

/// The region the playground serves.
pub const REGION: &str = "us-east-1";
/// The account the test keys act in, on either emulator.
pub const ACCOUNT_ID: &str = "123456789012";

/// The pipelines' artifact bucket.
pub const ARTIFACT_BUCKET: &str = "cpsf-demo-artifacts";
/// The stacks the worker may deploy and tear down.
pub const STACK_PREFIX: &str = "cpsf-demo-";
/// The topic approval requests on the playground go to (README's
/// "Approval by link" example, `cpsf demo --approval`): the worker's role
/// may publish to it (`worker_role::Grants::playground`'s
/// `ApprovalTopicArns`), and to no other, as bootstrap/cpsf.yaml grants.
pub const APPROVAL_TOPIC: &str = "deploy-approvals";

/// The ARN of [`APPROVAL_TOPIC`].
pub fn approval_topic_arn() -> String {
    format!("arn:aws:sns:{REGION}:{ACCOUNT_ID}:{APPROVAL_TOPIC}")
}

/// The second account of the demo. The playground installs
/// bootstrap/target-account.yaml there (`worker_role.rs`), whose role
/// trusts the worker's, as on AWS.
pub const FAR_ACCOUNT: &str = "222222222222";
