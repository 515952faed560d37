//! Where a rollout's targets read their parameters from other stacks'
//! outputs (issue 29, item 1), for the rollout's summary in the pipeline
//! (pure). Each target reads its references where it deploys — its
//! account and region, through its role (`references::Place::of`) — so
//! the same `{"fromStack": "todolayer-dev", "output": "LayerArn"}` gives
//! every target its own layer's value; the summary names, per reference,
//! each target and the place it was read.
//!
//! Everything here follows from the plan: the references are the
//! parameters each target's execution was given, checked by PlanRollout,
//! and the places are the targets' own. The values are not named (they
//! are in each stack's parameters and in each target's own history), so
//! nothing is added to the rollout's state (`budget`) but this text, cut
//! to [`SOURCES`](super::budget::SOURCES).

use super::budget::SOURCES;
use super::rollout::Plan;
use super::spec::Rollout;
use crate::base::text::fit_text;
use crate::references::{self, Place, Reference};
use serde_json::Value;
use std::collections::BTreeMap;

/// "from stack outputs: LayerArn ← todolayer-dev.LayerArn at dev-use1
/// (111111111111/us-east-1), prod-euw1 (222222222222/eu-west-1)"; the
/// targets that read the same references share one entry, entries apart
/// by "; ". Empty when no target reads any. `execution_arn` is the
/// rollout's own: a target with no account reads in the worker's.
pub fn note(plan: &Plan, rollout: &Rollout, execution_arn: &str) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for planned in plan.waves.iter().flatten() {
        let Some(target) = rollout.target(&planned.name) else {
            continue;
        };
        let parameters = planned
            .input
            .get("parameters")
            .or_else(|| plan.shared.get("parameters"));
        let read = reads(parameters);
        if read.is_empty() {
            continue;
        }
        let place = Place::of(
            execution_arn,
            Some(&target.region),
            target.account.as_deref(),
            target.role_arn.as_deref(),
        );
        let at = format!("{} ({}/{})", target.name, place.account, place.region);
        match groups.iter_mut().find(|(r, _)| *r == read) {
            Some((_, places)) => places.push(at),
            None => groups.push((read, vec![at])),
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let entries: Vec<String> = groups
        .into_iter()
        .map(|(read, places)| format!("{read} at {}", places.join(", ")))
        .collect();
    fit_text(
        &format!("from stack outputs: {}", entries.join("; ")),
        SOURCES,
    )
}

/// "LayerArn ← todolayer-dev.LayerArn, Vpc ← net.VpcId": the references
/// among a target's `parameters`, in parameter order.
fn reads(parameters: Option<&Value>) -> String {
    let parameters: BTreeMap<String, Value> = parameters
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default();
    // PlanRollout checked every reference: a malformed one never gets here.
    let found: BTreeMap<String, Reference> =
        references::of_parameters(&parameters).unwrap_or_default();
    found
        .iter()
        .map(|(parameter, r)| format!("{parameter} ← {}.{}", r.stack, r.output))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rollout's finished `result` with `note` added to its summary (the
/// pipeline's) and kept whole as `parametersFrom`: nothing when the note
/// is empty.
pub fn annotate(result: &mut Value, note: &str) {
    if note.is_empty() {
        return;
    }
    if let Some(summary) = result["summary"].as_str() {
        result["summary"] = format!("{summary}; {note}").into();
    }
    result["parametersFrom"] = note.into();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::rollout::plan;
    use serde_json::json;

    const ARN: &str = "arn:aws:states:us-east-1:111111111111:execution:cpsf-deploy:run-1";

    fn planned(deploy: Value) -> (Plan, Rollout) {
        let rollout = crate::targets::spec::parse(&deploy).unwrap().unwrap();
        let plan = plan(deploy.as_object().unwrap(), &rollout, ARN);
        (plan, rollout)
    }

    #[test]
    fn each_target_is_named_with_the_place_it_read_the_reference() {
        let (plan, rollout) = planned(json!({
            "stackName": "api",
            "parameters": {"Stage": "dev",
                           "LayerArn": {"fromStack": "todolayer-dev", "output": "LayerArn"}},
            "targets": [
                {"name": "dev-use1", "region": "us-east-1"},
                {"name": "prod-euw1", "region": "eu-west-1",
                 "roleArn": "arn:aws:iam::222222222222:role/cpsf-target"}
            ]
        }));
        assert_eq!(
            note(&plan, &rollout, ARN),
            "from stack outputs: LayerArn ← todolayer-dev.LayerArn at dev-use1 \
             (111111111111/us-east-1), prod-euw1 (222222222222/eu-west-1)"
        );
    }

    #[test]
    fn targets_that_read_other_references_get_entries_of_their_own() {
        let (plan, rollout) = planned(json!({
            "stackName": "api",
            "parameters": {"LayerArn": {"fromStack": "todolayer-dev", "output": "LayerArn"}},
            "targets": [
                {"name": "dev", "region": "us-east-1"},
                {"name": "prod", "region": "us-west-2", "account": "222222222222",
                 "roleArn": "arn:aws:iam::222222222222:role/cpsf-target",
                 "parameters": {"LayerArn": {"fromStack": "todolayer-prod", "output": "LayerArn"}}},
                {"name": "plain", "region": "us-west-2", "parameters": {"LayerArn": "arn:fixed"}}
            ]
        }));
        assert_eq!(
            note(&plan, &rollout, ARN),
            "from stack outputs: LayerArn ← todolayer-dev.LayerArn at dev \
             (111111111111/us-east-1); LayerArn ← todolayer-prod.LayerArn at prod \
             (222222222222/us-west-2)"
        );
    }

    #[test]
    fn no_reference_no_note_and_the_summary_unchanged() {
        let (plan, rollout) = planned(json!({
            "stackName": "api", "parameters": {"Stage": "dev"},
            "targets": [{"name": "dev", "region": "us-east-1"}]
        }));
        let said = note(&plan, &rollout, ARN);
        assert_eq!(said, "");
        let mut result = json!({"summary": "rollout complete: 1 of 1 targets deployed in 1 waves"});
        annotate(&mut result, &said);
        assert_eq!(
            result,
            json!({"summary": "rollout complete: 1 of 1 targets deployed in 1 waves"})
        );
    }

    #[test]
    fn the_note_stays_within_its_budget_for_the_most_targets() {
        let targets: Vec<Value> = (0..crate::targets::limits::MAX_TARGETS)
            .map(|i| json!({"name": format!("target-{i:03}"), "region": "ap-southeast-2",
                            "roleArn": format!("arn:aws:iam::{:012}:role/cpsf-target", i + 1),
                            "parameters": {"L": {"fromStack": format!("layer-{i}"), "output": "Arn"}}}))
            .collect();
        let (plan, rollout) = planned(json!({"stackName": "api", "targets": targets}));
        let said = note(&plan, &rollout, ARN);
        assert!(said.len() <= SOURCES && said.ends_with('…'), "{said}");
        let mut result = json!({"summary": "rollout complete"});
        annotate(&mut result, &said);
        assert!(
            result["summary"]
                .as_str()
                .unwrap()
                .starts_with("rollout complete; from stack outputs: L ← layer-0.Arn at")
        );
        assert_eq!(result["parametersFrom"], said);
    }
}
