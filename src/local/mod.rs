//! The local playground: everything cpsf talks to, on loopback, with no AWS
//! account. fakecloud (a separate process) serves S3, Step Functions,
//! CloudFormation, IAM and STS; [`codepipeline`] is cpsf's own CodePipeline
//! service, because no emulator implements the job-worker API.

pub mod codepipeline;
pub mod env;
pub mod fakecloud;
pub mod playground;
pub mod probe;
pub mod proxy;

pub use env::LocalEnv;
pub use playground::{Playground, PlaygroundOptions};
