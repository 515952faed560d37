//! Canary traffic shifting for a Lambda alias (issue 30): the deploy
//! input's `canary` names an `AWS::Lambda::Alias` of the template, and an
//! update that gives it a new version runs in steps, each a stack update
//! in which the alias keeps the old version and routes the step's share
//! to the new one, then a bake watched by CloudWatch alarms; after the
//! last, the template as given. An alarm puts the alias back on the old
//! version (a stack update too) and fails the deploy. CloudFormation owns
//! the alias throughout. The steps are states of the deploy state
//! machine (CanaryStep, CanaryBake: statemachines/README.md), so a killed
//! worker loses nothing.
//!
//! - pure: `spec.rs` (the input's `canary`, checked), `template.rs` (the
//!   alias in the template, the steps' templates, whether an update
//!   shifts), `yaml.rs` (a YAML template as JSON), `plan.rs` (the
//!   progress, what comes next, the alarms' verdict, what is shown).
//! - edges, in `tasks/`: `canary.rs` (the version the alias serves now,
//!   through CloudFormation's DescribeStackResource and Lambda's
//!   GetAlias; whether UpdateStack starts a canary), the handlers
//!   `canary_step.rs` and `canary_bake.rs`.

pub mod plan;
pub mod spec;
pub mod template;
pub mod yaml;
