//! Which template parameters `cpsf bootstrap` sends, decided without I/O.
//!
//! UpdateStack gives a parameter left out its template default, not the
//! value the stack runs with (CloudFormation API Reference, `Parameter`:
//! `UsePreviousValue`, "During a stack update, use the existing parameter
//! value that the stack is using for a given parameter key"). So a second
//! `cpsf bootstrap --parameter WorkerImage=…` would otherwise reset
//! `DeployedStackPolicyArn` to empty and strip the service role's policy.
//! Here every parameter the stack has and the command does not set is sent
//! with `UsePreviousValue` (valid only on update, so never on a create);
//! `--reset KEY` leaves one out on purpose, so it takes the template default.

use std::collections::BTreeSet;

/// A parameter the template declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub key: String,
    pub has_default: bool,
}

/// What to send for one parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Send {
    Value(String),
    UsePreviousValue,
}

/// The parameters bootstrap/cpsf.yaml declares, read from its text: the
/// keys indented two spaces under `Parameters:` and whether each has a
/// `Default:`.
pub fn declared(template: &str) -> Vec<Declared> {
    let mut found: Vec<Declared> = Vec::new();
    let mut inside = false;
    for line in template.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            inside = line.trim_end() == "Parameters:";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !key.starts_with([' ', '#'])
        {
            found.push(Declared {
                key: key.to_string(),
                has_default: false,
            });
        } else if line.starts_with("    Default:")
            && let Some(last) = found.last_mut()
        {
            last.has_default = true;
        }
    }
    found
}

/// The parameters to send. `given` are the command's `--parameter`s (and
/// the definition's location, which bootstrap sets itself), `resets` its
/// `--reset`s, and `existing` the keys of the stack's parameters when it
/// exists (an update) or `None` (a create).
pub fn plan(
    declared: &[Declared],
    given: &[(String, String)],
    resets: &[String],
    existing: Option<&[String]>,
) -> Result<Vec<(String, Send)>, String> {
    let find = |key: &str| declared.iter().find(|d| d.key == key);
    let mut seen = BTreeSet::new();
    for (key, _) in given {
        if find(key).is_none() {
            return Err(format!("bootstrap/cpsf.yaml has no parameter {key}"));
        }
        if !seen.insert(key.as_str()) {
            return Err(format!("the parameter {key} is given twice"));
        }
    }
    for key in resets {
        match find(key) {
            None => {
                return Err(format!(
                    "--reset {key}: bootstrap/cpsf.yaml has no such parameter"
                ));
            }
            Some(d) if !d.has_default => {
                return Err(format!(
                    "--reset {key}: the parameter has no default to return to; give it a value"
                ));
            }
            Some(_) if seen.contains(key.as_str()) => {
                return Err(format!("{key} is both given a value and reset"));
            }
            Some(_) => {}
        }
    }
    let mut sent: Vec<(String, Send)> = given
        .iter()
        .map(|(k, v)| (k.clone(), Send::Value(v.clone())))
        .collect();
    // A create has no previous values: what is not given takes its default.
    // On an update, a key the stack has but this template no longer
    // declares cannot be sent (CloudFormation refuses parameters the
    // template lacks), and a newly declared one takes its default.
    for key in existing.unwrap_or_default() {
        let keep = find(key).is_some() && !seen.contains(key.as_str()) && !resets.contains(key);
        if keep {
            sent.push((key.clone(), Send::UsePreviousValue));
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared_here() -> Vec<Declared> {
        declared(super::super::TEMPLATE)
    }

    fn given(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_templates_parameters_are_read_with_their_defaults() {
        let found = declared_here();
        let get = |key: &str| found.iter().find(|d| d.key == key).cloned();
        assert!(!get("WorkerImage").unwrap().has_default);
        assert!(get("NamePrefix").unwrap().has_default);
        assert!(get("DeployedStackPolicyArn").unwrap().has_default);
        assert!(get("EventsStateMachineArns").unwrap().has_default);
        assert!(get("DefinitionKey").is_some());
        assert!(found.iter().all(|d| !d.key.contains(' ')), "{found:?}");
    }

    #[test]
    fn a_create_sends_only_what_is_given() {
        let sent = plan(
            &declared_here(),
            &given(&[("WorkerImage", "i:1")]),
            &[],
            None,
        )
        .unwrap();
        assert_eq!(sent, [("WorkerImage".into(), Send::Value("i:1".into()))]);
    }

    #[test]
    fn an_update_keeps_every_parameter_not_given() {
        let existing = keys(&["WorkerImage", "VpcId", "DeployedStackPolicyArn"]);
        let sent = plan(
            &declared_here(),
            &given(&[("WorkerImage", "i:2")]),
            &[],
            Some(&existing),
        )
        .unwrap();
        assert_eq!(
            sent,
            [
                ("WorkerImage".into(), Send::Value("i:2".into())),
                ("VpcId".into(), Send::UsePreviousValue),
                ("DeployedStackPolicyArn".into(), Send::UsePreviousValue),
            ]
        );
    }

    #[test]
    fn a_reset_parameter_is_left_out_so_it_takes_its_default() {
        let existing = keys(&["VpcId", "DeployedStackPolicyArn"]);
        let sent = plan(
            &declared_here(),
            &[],
            &keys(&["DeployedStackPolicyArn"]),
            Some(&existing),
        )
        .unwrap();
        assert_eq!(sent, [("VpcId".into(), Send::UsePreviousValue)]);
    }

    #[test]
    fn keys_the_template_dropped_are_not_sent() {
        let existing = keys(&["VpcId", "Retired"]);
        let sent = plan(&declared_here(), &[], &[], Some(&existing)).unwrap();
        assert_eq!(sent, [("VpcId".into(), Send::UsePreviousValue)]);
    }

    #[test]
    fn mistakes_are_refused_before_any_call() {
        let d = declared_here();
        let refused =
            |g: &[(&str, &str)], r: &[&str]| plan(&d, &given(g), &keys(r), None).unwrap_err();
        assert!(refused(&[("Nope", "x")], &[]).contains("no parameter Nope"));
        assert!(refused(&[("VpcId", "a"), ("VpcId", "b")], &[]).contains("twice"));
        assert!(refused(&[], &["Nope"]).contains("no such parameter"));
        assert!(refused(&[], &["WorkerImage"]).contains("no default"));
        assert!(refused(&[("NamePrefix", "x")], &["NamePrefix"]).contains("both"));
    }
}
