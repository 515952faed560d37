//! The rollout part of the deploy input (pure): `targets`, `waves`,
//! `bake` and `failureTolerance` (statemachines/README.md, "Targets and
//! waves (input)"), checked before any deploy starts.
//!
//! Every problem is reported at once, each naming the target, wave or key
//! and what is allowed, so a user fixes the file in one go. An input with
//! no `targets` is today's single target, unchanged.

use super::bake;
pub use super::bake::Bake;
use super::limits::MAX_TARGETS;
use super::names::{partition, role_arn};
use super::rollback::ROLLBACK_KEY;
use super::target;
pub use super::target::Target;
use crate::base::spelling::closest;
use crate::base::text::json_kind;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The keys of the rollout; a target's own deploy input has none of them
/// (`plan::target_deploy`).
pub const ROLLOUT_KEYS: &[&str] = &["targets", "waves", "bake", "failureTolerance"];

/// The key each target's deploy input carries (`plan::target_deploy`), read
/// by the task handlers to reach the target: reserved, so that no input can
/// point a deploy elsewhere by writing it.
pub const TARGET_KEY: &str = "target";

#[derive(Debug, Clone, PartialEq)]
pub struct Rollout {
    pub targets: Vec<Target>,
    /// Target names, each target in exactly one wave; waves run in order.
    pub waves: Vec<Vec<String>>,
    pub bake: Option<Bake>,
    /// How many targets of one wave may fail without stopping the rollout.
    pub failure_tolerance: u32,
}

impl Rollout {
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The regions of wave `index`'s targets, each once, in wave order: where
    /// its bake watches the alarms.
    pub fn wave_regions(&self, index: usize) -> Vec<String> {
        let mut regions: Vec<String> = Vec::new();
        for name in self.waves.get(index).into_iter().flatten() {
            if let Some(t) = self.target(name).filter(|t| !regions.contains(&t.region)) {
                regions.push(t.region.clone());
            }
        }
        regions
    }
}

/// The rollout of `deploy`, None when it has no `targets` key, or every
/// problem with it.
pub fn parse(deploy: &Value) -> Result<Option<Rollout>, Vec<String>> {
    let Some(object) = deploy.as_object() else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    if object.contains_key(TARGET_KEY) {
        problems.push(format!(
            "the deploy input has a '{TARGET_KEY}' key, which cpsf sets in each target's deploy \
             to say where it goes: list targets under 'targets', or rename the key"
        ));
    }
    if object.contains_key(ROLLBACK_KEY) && object.contains_key("targets") {
        problems.push(format!(
            "the deploy input has a '{ROLLBACK_KEY}' key, which cpsf sets in each target's \
             deploy from bake.rollback: use bake.rollback, or remove the key"
        ));
    }
    let Some(list) = object.get("targets") else {
        let stray: Vec<&str> = ROLLOUT_KEYS[1..]
            .iter()
            .copied()
            .filter(|k| object.contains_key(*k))
            .collect();
        if !stray.is_empty() {
            problems.push(format!(
                "{} given without targets: they shape a rollout over several targets; add \
                 targets, or remove them to deploy to the worker's own account and region",
                stray.join(", ")
            ));
        }
        return if problems.is_empty() {
            Ok(None)
        } else {
            Err(problems)
        };
    };
    let targets = targets(object, list, &mut problems);
    let waves = match object.get("waves") {
        Some(value) => waves(value, &targets, &mut problems),
        None => Some(default_waves(&targets)),
    };
    let failure_tolerance = tolerance(
        object.get("failureTolerance"),
        waves.as_deref(),
        &mut problems,
    );
    let bake = object
        .get("bake")
        .and_then(|b| bake::parse(b, waves.as_ref().map(Vec::len), &mut problems));
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(Rollout {
        targets,
        waves: waves.unwrap_or_default(),
        bake,
        failure_tolerance,
    }))
}

/// One wave per region, in the order the regions first appear: a region
/// is the usual unit of blast radius.
pub fn default_waves(targets: &[Target]) -> Vec<Vec<String>> {
    let mut waves: Vec<(String, Vec<String>)> = Vec::new();
    for t in targets {
        match waves.iter_mut().find(|(region, _)| *region == t.region) {
            Some((_, wave)) => wave.push(t.name.clone()),
            None => waves.push((t.region.clone(), vec![t.name.clone()])),
        }
    }
    waves.into_iter().map(|(_, wave)| wave).collect()
}

fn targets(object: &Map<String, Value>, list: &Value, problems: &mut Vec<String>) -> Vec<Target> {
    let Some(list) = list.as_array() else {
        problems.push(format!(
            "targets must be a list of targets like [{{\"name\": \"prod-use1\", \"region\": \
             \"us-east-1\"}}]; it is {}",
            json_kind(list)
        ));
        return Vec::new();
    };
    if list.is_empty() {
        problems.push(
            "targets is empty: list at least one target, or remove targets to deploy to the \
             worker's own account and region"
                .into(),
        );
    }
    if list.len() > MAX_TARGETS {
        problems.push(format!(
            "targets lists {} targets; one Deploy action deploys at most {MAX_TARGETS}: a \
             failed wave's message names each failed target within the 5,000 characters \
             CodePipeline shows, and each target adds two output variables to the action's, \
             which CodePipeline caps at 122,880 characters; split the targets over several \
             Deploy actions",
            list.len()
        ));
    }
    let mut targets = Vec::new();
    let mut sound = Vec::new();
    let mut indices: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, value) in list.iter().enumerate() {
        let before = problems.len();
        if let Some(t) = target::parse(index, value, problems) {
            indices.entry(t.name.clone()).or_default().push(index);
            if problems.len() == before {
                sound.push(t.clone());
            }
            targets.push(t);
        }
    }
    for (name, at) in indices.iter().filter(|(_, at)| at.len() > 1) {
        let at: Vec<String> = at.iter().map(|i| format!("targets[{i}]")).collect();
        problems.push(format!(
            "target name '{name}' is given to {}: each target needs a name of its own, which \
             names its output variables",
            at.join(" and ")
        ));
    }
    across_targets(object, &sound, problems);
    targets
}

/// What no single target shows: one partition, one deploy per stack, and
/// a top-level service role each target can use.
fn across_targets(object: &Map<String, Value>, sound: &[Target], problems: &mut Vec<String>) {
    if let Some(first) = sound.first() {
        let home = partition(&first.region);
        for t in sound.iter().filter(|t| partition(&t.region) != home) {
            problems.push(format!(
                "target '{}' ({}) is in partition {}, but target '{}' ({}) is in {home}: a \
                 worker's credentials, and the roles it assumes, reach one partition only; \
                 deploy each partition from its own action and worker",
                t.name,
                t.region,
                partition(&t.region),
                first.name,
                first.region
            ));
        }
    }
    let stack = object
        .get("stackName")
        .and_then(Value::as_str)
        .unwrap_or("the stack");
    let mut seen: BTreeMap<(Option<&str>, &str), &str> = BTreeMap::new();
    for t in sound {
        let place = (t.account.as_deref(), t.region.as_str());
        if let Some(first) = seen.insert(place, &t.name) {
            let account = t
                .account
                .as_ref()
                .map_or("the worker's own account".to_string(), |a| {
                    format!("account {a}")
                });
            problems.push(format!(
                "targets '{first}' and '{}' both deploy stack '{stack}' to {} in {account}: a \
                 stack takes one deploy at a time; remove one, or give it another account or region",
                t.name, t.region
            ));
        }
    }
    let shared = object
        .get("roleArn")
        .and_then(Value::as_str)
        .and_then(|a| role_arn(a).ok());
    if let Some(shared) = shared {
        for t in sound
            .iter()
            .filter(|t| t.cloud_formation_role_arn.is_none())
        {
            if let Some(account) = t.account.as_ref().filter(|a| *a != shared.account) {
                problems.push(format!(
                    "target '{}' deploys in account {account} and would use the top-level roleArn, \
                     a role of account {}: CloudFormation takes a service role only from the \
                     stack's own account (iam:PassRole); give the target a cloudFormationRoleArn",
                    t.name, shared.account
                ));
            }
        }
    }
}

/// The waves as given, or None when they have problems.
fn waves(
    value: &Value,
    targets: &[Target],
    problems: &mut Vec<String>,
) -> Option<Vec<Vec<String>>> {
    let example = "e.g. [[\"tools-use1\"], [\"prod-use1\", \"prod-euw1\"]]";
    let Some(list) = value.as_array() else {
        problems.push(format!(
            "waves must be a list of waves, each a list of target names, {example}; it is {}",
            json_kind(value)
        ));
        return None;
    };
    if list.is_empty() {
        problems.push(
            "waves is empty: put each target in one wave, or remove waves for one wave per region"
                .into(),
        );
        return None;
    }
    let before = problems.len();
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let mut placed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut waves = Vec::new();
    for (w, wave) in list.iter().enumerate() {
        let Some(wave) = wave.as_array() else {
            problems.push(format!(
                "waves[{w}] must be a list of target names, {example}; it is {}",
                json_kind(wave)
            ));
            continue;
        };
        if wave.is_empty() {
            problems.push(format!(
                "waves[{w}] is empty: a wave deploys at least one target; remove it"
            ));
        }
        let mut members = Vec::new();
        for (i, item) in wave.iter().enumerate() {
            let Some(name) = item.as_str() else {
                problems.push(format!(
                    "waves[{w}][{i}] must be a target's name (a string); it is {}",
                    json_kind(item)
                ));
                continue;
            };
            let Some(name) = names.iter().copied().find(|n| *n == name) else {
                let hint = closest(name, &names)
                    .map(|n| format!(" (did you mean '{n}'?)"))
                    .unwrap_or_default();
                problems.push(format!(
                    "waves[{w}] names '{name}', which is not a target{hint}: a wave lists names \
                     from targets"
                ));
                continue;
            };
            match placed.insert(name, w) {
                Some(first) if first == w => problems.push(format!(
                    "target '{name}' is named twice in waves[{w}]: each target deploys once; \
                     remove one"
                )),
                Some(first) => problems.push(format!(
                    "target '{name}' is in waves[{first}] and waves[{w}]: each target deploys \
                     once, in one wave; remove it from all but one"
                )),
                None => members.push(name.to_string()),
            }
        }
        waves.push(members);
    }
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !placed.contains_key(*n))
        .map(|n| format!("'{n}'"))
        .collect();
    if !missing.is_empty() {
        let (subject, verb) = if missing.len() == 1 {
            ("target", "is")
        } else {
            ("targets", "are")
        };
        problems.push(format!(
            "{subject} {} {verb} in no wave: when waves are given, each target is in exactly \
             one; add it to a wave, or remove waves for one wave per region",
            missing.join(", ")
        ));
    }
    (problems.len() == before).then_some(waves)
}

/// A wave stops the rollout when more than this many of its targets fail.
/// A tolerance of the largest wave's size or more could never stop any
/// wave: every target of every wave could fail and the rollout would go on
/// and report success, which is refused. It applies to each wave alike, so
/// a wave with no more targets than the tolerance cannot stop the rollout.
fn tolerance(
    value: Option<&Value>,
    waves: Option<&[Vec<String>]>,
    problems: &mut Vec<String>,
) -> u32 {
    let Some(value) = value else {
        return 0;
    };
    let Some(tolerance) = value.as_u64() else {
        problems.push(format!(
            "failureTolerance is {value}; it must be a whole number: how many targets of a wave \
             may fail without stopping the rollout (0, the default, stops at the first failure)"
        ));
        return 0;
    };
    let largest = waves.into_iter().flatten().map(Vec::len).max();
    if let Some(largest) = largest.filter(|l| tolerance >= *l as u64) {
        problems.push(format!(
            "failureTolerance {tolerance} would let every target of a wave fail without stopping \
             the rollout (the largest wave has {largest}), so no failure could ever stop it: use \
             at most {}",
            largest - 1
        ));
    }
    u32::try_from(tolerance).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
