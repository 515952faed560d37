//! Environments per branch (issue 19): one pipeline deploys each branch's
//! own copy of a stack, lists them, tears one down, and prunes the stale.
//!
//! Pure: `name.rs` (a branch name made stack-name safe), `spec.rs` (the
//! input's `operation`, `environment`, `ttlHours`: which stack, which
//! operation), `tags.rs` (the `cpsf:*` tags written on deploy and read
//! back), `teardown.rs` (whether a stack may be deleted: the one rule for
//! the state machine and prune), `select.rs` (what prune takes),
//! `heads.rs` (a repository's branches, from `git ls-remote`'s output).
//! Edge: `listing.rs` (DescribeStacks → environments). Pruning, which
//! runs the teardown's task handlers, is `src/prune.rs`, above both. The
//! state machine's side is
//! `tasks/check_teardown.rs`, `delete_environment.rs`, `wait_teardown.rs`;
//! the command is `cli/environments.rs`.

pub mod heads;
pub mod listing;
pub mod name;
pub mod select;
pub mod spec;
pub mod table;
pub mod tags;
pub mod teardown;
