//! The CloudFormation toolkit the task handlers share, and the job side,
//! bootstrap, prune, the demo and the playground with them: each call
//! takes a CloudFormation client (or the task's input), none a handler's
//! context.
//!
//! - `stack.rs`: what a stack status means (pure), describe, the first
//!   failed event.
//! - `change_set.rs`: cpsf's change set names and whose a change set is,
//!   execute (its one ambiguous refusal sorted out), the changes read.
//! - `template.rs`: the template from the revision, and a large one staged
//!   for a TemplateURL.
//! - `outputs.rs`: another stack's outputs for a deploy's parameters
//!   (`references`), read where the deploy goes.
//! - `unchanged.rs` (pure): when an update provably changes nothing
//!   without a change set.

pub mod change_set;
pub mod outputs;
pub mod stack;
pub mod template;
pub mod unchanged;
