//! The local playground: everything cpsf talks to, on loopback, with no AWS
//! account. An emulator in a separate process serves S3, Step Functions,
//! CloudFormation, IAM and STS: MiniStack by default, or fakecloud
//! ([`emulator`] says when to pick which). [`codepipeline`] is cpsf's own
//! CodePipeline service, because no emulator implements the job-worker API.

pub mod approvals;
pub mod child;
pub mod codepipeline;
pub mod emulator;
pub mod env;
pub mod events;
pub mod fakecloud;
pub mod ministack;
pub mod names;
pub mod playground;
pub mod preset;
pub mod probe;
pub mod proxy;
pub mod state_data;
pub mod worker_role;

pub use emulator::Emulator;
pub use env::LocalEnv;
pub use playground::{Playground, PlaygroundOptions};
