//! The template's alias and the templates of the steps (pure).
//!
//! Each step is a stack update of the template as given, with one
//! change: the alias keeps the version it serves now (`FunctionVersion`)
//! and routes the step's share to the new one (`RoutingConfig`
//! `AdditionalVersionWeights`: "the second version, and the percentage of
//! traffic that's routed to it": CloudFormation template reference,
//! AWS::Lambda::Alias AliasRoutingConfiguration and VersionWeight; the
//! weight is a fraction from 0.0 to 1.0 and the version a published one,
//! `[0-9]+`: Lambda API reference, AliasRoutingConfiguration).
//! The roll-back is the same template with the alias on the old version
//! and no routing. So CloudFormation owns the alias at every point and
//! its drift detection finds it in sync: no API call changes it behind
//! the stack's back.

use crate::base::change::Change;
use serde_json::{Value, json};

/// The alias as the template declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// The alias's `FunctionVersion` as written: a literal, a `Ref` or,
    /// most often, `{"Fn::GetAtt": [<Version>, "Version"]}`.
    pub function_version: Value,
    /// The `AWS::Lambda::Version` resource it names, if it names one.
    pub version_resource: Option<String>,
}

/// The template parsed: JSON, or YAML with CloudFormation's short forms
/// (`yaml.rs`).
pub fn parse(body: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(body) {
        Ok(value) => Ok(value),
        Err(_) if !body.trim_start().starts_with('{') => super::yaml::to_json(body),
        Err(e) => Err(format!("the template is not JSON: {e}")),
    }
}

/// Where `alias` is in `template`, or why a canary cannot shift it.
pub fn find(template: &Value, alias: &str) -> Result<Site, String> {
    let resources = template.get("Resources").and_then(Value::as_object);
    let Some(resource) = resources.and_then(|r| r.get(alias)) else {
        let aliases: Vec<&str> = resources
            .into_iter()
            .flatten()
            .filter(|(_, r)| r["Type"] == "AWS::Lambda::Alias")
            .map(|(id, _)| id.as_str())
            .collect();
        let listed = match aliases.as_slice() {
            [] => "it declares no AWS::Lambda::Alias".to_string(),
            some => format!("its aliases are {}", some.join(", ")),
        };
        let managed = codedeploy_shifts(template)
            .map(|why| format!("; {why}"))
            .unwrap_or_default();
        return Err(format!(
            "canary.alias '{alias}' is no resource of the template: {listed}{managed}"
        ));
    };
    if resource["Type"] != "AWS::Lambda::Alias" {
        return Err(format!(
            "canary.alias '{alias}' is a {}, not an AWS::Lambda::Alias",
            resource["Type"].as_str().unwrap_or("resource with no Type")
        ));
    }
    if resource
        .get("UpdatePolicy")
        .and_then(|p| p.get("CodeDeployLambdaAliasUpdate"))
        .is_some()
    {
        return Err(format!(
            "alias '{alias}' has UpdatePolicy CodeDeployLambdaAliasUpdate: CodeDeploy shifts its \
             traffic when CloudFormation updates it (CloudFormation user guide, UpdatePolicy \
             attribute), and two deployers of one alias would undo each other; remove canary \
             from the input (cpsf then waits CodeDeploy out), or the UpdatePolicy"
        ));
    }
    let properties = &resource["Properties"];
    if properties.get("RoutingConfig").is_some() {
        return Err(format!(
            "alias '{alias}' already has a RoutingConfig in the template; the canary's steps set \
             it, and after the last one the alias sends all traffic to FunctionVersion: remove \
             RoutingConfig"
        ));
    }
    let Some(version) = properties.get("FunctionVersion") else {
        return Err(format!("alias '{alias}' has no FunctionVersion"));
    };
    let version_resource = named_resource(version).filter(|id| {
        resources.and_then(|r| r.get(*id)).map(|r| &r["Type"])
            == Some(&json!("AWS::Lambda::Version"))
    });
    Ok(Site {
        function_version: version.clone(),
        version_resource: version_resource.map(str::to_string),
    })
}

/// The resource a `Ref` or `Fn::GetAtt` names.
fn named_resource(value: &Value) -> Option<&str> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some(id);
    }
    match value.get("Fn::GetAtt")? {
        Value::Array(parts) => parts.first()?.as_str(),
        Value::String(dotted) => dotted.split('.').next(),
        _ => None,
    }
}

/// Why CodeDeploy, not cpsf, shifts traffic in this template, if it does:
/// an alias with `UpdatePolicy: CodeDeployLambdaAliasUpdate`, or a SAM
/// function with `DeploymentPreference` (AWS SAM developer guide,
/// "Deploying serverless applications gradually": SAM makes that
/// UpdatePolicy).
pub fn codedeploy_shifts(template: &Value) -> Option<String> {
    let resources = template.get("Resources")?.as_object()?;
    resources.iter().find_map(|(id, r)| {
        let policy = r
            .get("UpdatePolicy")
            .and_then(|p| p.get("CodeDeployLambdaAliasUpdate"))
            .is_some();
        let sam = r["Type"] == "AWS::Serverless::Function"
            && r["Properties"].get("DeploymentPreference").is_some();
        (policy || sam).then(|| {
            format!(
                "{id} has CodeDeploy shift its alias's traffic ({}), which CloudFormation and \
                 CodeDeploy do without cpsf",
                if sam {
                    "SAM DeploymentPreference"
                } else {
                    "UpdatePolicy CodeDeployLambdaAliasUpdate"
                }
            )
        })
    })
}

/// What a deploy of `body` without `canary` says when CodeDeploy shifts an
/// alias's traffic in it ([`codedeploy_shifts`]): CloudFormation runs the
/// CodeDeploy deployment within the stack update and the update ends when
/// it does (CloudFormation user guide, UpdatePolicy attribute,
/// CodeDeployLambdaAliasUpdate), so WaitForStack waits it out. Only a body
/// that names either key is parsed.
pub fn codedeploy_note(body: &str) -> Option<String> {
    if !body.contains("CodeDeployLambdaAliasUpdate") && !body.contains("DeploymentPreference") {
        return None;
    }
    let why = codedeploy_shifts(&parse(body).ok()?)?;
    Some(format!(
        "{why}: cpsf waited for the stack update, CodeDeploy's traffic shifting included"
    ))
}

/// Whether the update the change set `changes` makes moves the alias to
/// another version: the alias's `FunctionVersion` changes (a detail whose
/// target is that property: API reference, ResourceTargetDefinition), or,
/// where an emulator gives no details, the version resource it names is
/// added or replaced.
pub fn shifts(changes: &[Change], alias: &str, site: &Site) -> bool {
    let alias_version = changes.iter().any(|c| {
        c.logical_id == alias
            && c.causes
                .iter()
                .any(|cause| cause.starts_with("Properties.FunctionVersion"))
    });
    let new_version = site.version_resource.as_deref().is_some_and(|id| {
        changes
            .iter()
            .any(|c| c.logical_id == id && matches!(c.action.as_str(), "Add" | "Modify"))
    });
    alias_version || new_version
}

/// The changes the replacement gate judges in a canary's update: all but
/// the replacement of the version resource the alias names when the old
/// version is kept (`PolicyAction: ReplaceAndRetain`, from
/// `UpdateReplacePolicy: Retain`: API reference, ResourceChange). On AWS a
/// version whose code or description changes is replaced (`Replacement:
/// True`: CloudFormation template reference, AWS::Lambda::Version), which
/// is how a new version is published, not a risk a canary's user must
/// allow; a replacement that would delete the old version, which the
/// alias still serves during the steps, stays refused.
pub fn gated<'a>(changes: &'a [Change], site: Option<&Site>) -> Vec<&'a Change> {
    let version = site.and_then(|s| s.version_resource.as_deref());
    changes
        .iter()
        .filter(|c| {
            !(Some(c.logical_id.as_str()) == version
                && c.resource_type == "AWS::Lambda::Version"
                && c.replaced_old_retained())
        })
        .collect()
}

/// The template of a step: `template` with the alias on `old` and, with a
/// `weight` (0 to 1), that share routed to the version the template names;
/// without one, the roll-back: all traffic on `old`. JSON, whatever the
/// template was written in: CloudFormation takes either on any update.
pub fn step_body(
    template: &Value,
    alias: &str,
    site: &Site,
    old: &str,
    weight: Option<f64>,
) -> String {
    let mut step = template.clone();
    let properties = &mut step["Resources"][alias]["Properties"];
    properties["FunctionVersion"] = json!(old);
    match weight {
        Some(weight) => {
            properties["RoutingConfig"] = json!({"AdditionalVersionWeights": [{
                "FunctionVersion": site.function_version,
                "FunctionWeight": (weight * 10_000.0).round() / 10_000.0,
            }]});
        }
        None => {
            if let Some(object) = properties.as_object_mut() {
                object.remove("RoutingConfig");
            }
        }
    }
    step.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Value {
        json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "V2": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {"Type": "AWS::Lambda::Alias", "Properties": {
                "FunctionName": {"Ref": "Fn"}, "Name": "live",
                "FunctionVersion": {"Fn::GetAtt": ["V2", "Version"]}}}}})
    }

    fn change(action: &str, id: &str, causes: &[&str]) -> Change {
        Change {
            action: action.into(),
            logical_id: id.into(),
            resource_type: String::new(),
            replacement: None,
            causes: causes.iter().map(|c| c.to_string()).collect(),
            policy_action: None,
        }
    }

    #[test]
    fn a_step_pins_the_old_version_and_routes_its_share_to_the_new() {
        let site = find(&template(), "Live").unwrap();
        assert_eq!(site.version_resource.as_deref(), Some("V2"));
        let step: Value =
            serde_json::from_str(&step_body(&template(), "Live", &site, "3", Some(0.1))).unwrap();
        let alias = &step["Resources"]["Live"]["Properties"];
        assert_eq!(alias["FunctionVersion"], "3");
        assert_eq!(
            alias["RoutingConfig"],
            json!({"AdditionalVersionWeights": [{"FunctionVersion": {"Fn::GetAtt": ["V2", "Version"]},
                                                 "FunctionWeight": 0.1}]})
        );
        // Nothing else of the template changes.
        assert_eq!(step["Resources"]["V2"], template()["Resources"]["V2"]);
        let back: Value =
            serde_json::from_str(&step_body(&step, "Live", &site, "3", None)).unwrap();
        assert_eq!(
            back["Resources"]["Live"]["Properties"].get("RoutingConfig"),
            None
        );
        assert_eq!(
            back["Resources"]["Live"]["Properties"]["FunctionVersion"],
            "3"
        );
    }

    #[test]
    fn only_a_new_version_for_the_alias_runs_the_steps() {
        let site = find(&template(), "Live").unwrap();
        let code_only = [change("Modify", "Fn", &["Properties.Code"])];
        assert!(!shifts(&code_only, "Live", &site));
        let new_version = [change("Add", "V2", &[]), change("Modify", "Live", &[])];
        assert!(shifts(&new_version, "Live", &site));
        let detailed = [change(
            "Modify",
            "Live",
            &["Properties.FunctionVersion, from attribute V2.Version"],
        )];
        assert!(shifts(&detailed, "Live", &site));
        let description = [change("Modify", "Live", &["Properties.Description"])];
        assert!(!shifts(&description, "Live", &site));
    }

    #[test]
    fn a_new_version_that_keeps_the_old_one_passes_the_gate_in_a_canary() {
        let site = find(&template(), "Live").unwrap();
        let mut kept = change("Modify", "V2", &[]);
        kept.resource_type = "AWS::Lambda::Version".into();
        kept.replacement = Some("True".into());
        kept.policy_action = Some("ReplaceAndRetain".into());
        let mut deleted = kept.clone();
        deleted.policy_action = Some("ReplaceAndDelete".into());
        let mut queue = kept.clone();
        queue.logical_id = "Queue".into();
        let changes = [kept.clone(), deleted.clone(), queue.clone()];
        assert_eq!(gated(&changes, Some(&site)), [&deleted, &queue]);
        assert_eq!(
            gated(&changes, None).len(),
            3,
            "without a canary, all are judged"
        );
    }

    #[test]
    fn an_alias_codedeploy_shifts_or_none_at_all_is_refused_with_the_reason() {
        let mut managed = template();
        managed["Resources"]["Live"]["UpdatePolicy"] = json!({"CodeDeployLambdaAliasUpdate": {"ApplicationName": "a", "DeploymentGroupName": "g"}});
        let why = find(&managed, "Live").unwrap_err();
        assert!(why.contains("CodeDeployLambdaAliasUpdate"), "{why}");
        assert!(codedeploy_shifts(&managed).is_some());
        let missing = find(&template(), "Alias").unwrap_err();
        assert!(missing.contains("its aliases are Live"), "{missing}");
        let sam = json!({"Transform": "AWS::Serverless-2016-10-31", "Resources": {"Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"AutoPublishAlias": "live", "DeploymentPreference": {"Type": "Canary10Percent5Minutes"}}}}});
        let why = find(&sam, "FnAliaslive").unwrap_err();
        assert!(why.contains("SAM DeploymentPreference"), "{why}");
        let note = codedeploy_note(&sam.to_string()).unwrap();
        assert!(
            note.ends_with("CodeDeploy's traffic shifting included"),
            "{note}"
        );
        assert_eq!(codedeploy_note(&template().to_string()), None);
        let wrong = find(&template(), "Fn").unwrap_err();
        assert!(wrong.contains("not an AWS::Lambda::Alias"), "{wrong}");
        let mut routed = template();
        routed["Resources"]["Live"]["Properties"]["RoutingConfig"] = json!({});
        assert!(find(&routed, "Live").unwrap_err().contains("RoutingConfig"));
    }
}
