//! The resolver and the checks, on plain data.

use super::*;
use serde_json::json;

fn config(pairs: &[(&str, &str)]) -> Configuration {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn scope<'a>(
    pipeline: &'a [(String, String)],
    namespaces: &[(&'a str, &'a BTreeMap<String, String>)],
) -> Scope<'a> {
    Scope {
        execution_id: "exec-1",
        pipeline,
        namespaces: namespaces.iter().copied().collect(),
    }
}

#[test]
fn references_are_namespace_dot_key_and_everything_else_is_text() {
    let found: Vec<String> = references("a#{variables.branch}b#{Src.ETag}#{x}#{a.b.c}#{.k}#{n.}#{")
        .map(|r| r.text())
        .collect();
    assert_eq!(found, vec!["variables.branch", "Src.ETag"]);
    assert_eq!(
        references("#{#{codepipeline.PipelineExecutionId}").count(),
        1
    );
}

#[test]
fn several_references_with_text_around_them_resolve_once() {
    let pipeline = vec![("branch".to_string(), "#{Src.ETag}".to_string())];
    let outputs = BTreeMap::from([("ETag".to_string(), "abc".to_string())]);
    let scope = scope(&pipeline, &[("Src", &outputs)]);
    let resolved = resolve(
        &config(&[
            (
                "Input",
                r##"{"b":"#{variables.branch}","e":"#{Src.ETag}-#{Src.ETag}"}"##,
            ),
            ("Id", "run #{codepipeline.PipelineExecutionId}."),
            ("Plain", "#{not a reference}"),
        ]),
        &scope,
    )
    .unwrap();
    assert_eq!(resolved["Input"], r##"{"b":"#{Src.ETag}","e":"abc-abc"}"##);
    assert_eq!(resolved["Id"], "run exec-1.");
    assert_eq!(resolved["Plain"], "#{not a reference}");
}

#[test]
fn what_does_not_resolve_is_listed_and_fails_the_action() {
    let outputs = BTreeMap::from([("ETag".to_string(), "abc".to_string())]);
    let scope = scope(&[], &[("Src", &outputs)]);
    let unresolved = resolve(
        &config(&[(
            "A",
            "#{Src.VersionId} #{Nope.X} #{variables.y} #{codepipeline.Other}",
        )]),
        &scope,
    )
    .unwrap_err();
    assert_eq!(
        unresolved,
        vec![
            "Src.VersionId",
            "Nope.X",
            "variables.y",
            "codepipeline.Other"
        ]
    );
    let error = unresolved_error("Deploy");
    assert!(
        error
            .message
            .contains("could not be resolved: Action name=Deploy.")
    );
}

#[test]
fn an_actions_own_namespace_named_variables_wins_when_none_are_declared() {
    let outputs = BTreeMap::from([("k".to_string(), "from-action".to_string())]);
    let scope = scope(&[], &[("variables", &outputs)]);
    let resolved = resolve(&config(&[("A", "#{variables.k}")]), &scope).unwrap();
    assert_eq!(resolved["A"], "from-action");
}

/// S3 source (namespace `Src`), then Deploy with runOrders 1 and 2.
fn pipeline(deploy_1: Value, deploy_2: Value, variables: Value) -> PipelineDeclaration {
    let action = |name: &str, order: i64, mut extra: Value| {
        let mut a = json!({"name": name, "runOrder": order,
            "actionTypeId": {"category": "Deploy", "owner": "Custom", "provider": "SF", "version": "1"},
            "configuration": {}});
        a.as_object_mut()
            .unwrap()
            .append(extra.as_object_mut().unwrap());
        a
    };
    serde_json::from_value(json!({
        "name": "p", "roleArn": "r", "pipelineType": "V2", "variables": variables,
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [
            {"name": "Source", "actions": [{"name": "S", "namespace": "Src",
                "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
                "configuration": {"S3Bucket": "b", "S3ObjectKey": "k"},
                "outputArtifacts": [{"name": "SourceOutput"}]}]},
            {"name": "Deploy", "actions": [action("A", 1, deploy_1), action("B", 2, deploy_2)]},
        ]
    }))
    .unwrap()
}

use serde_json::Value;

fn declared() -> Value {
    json!([{"name": "branch", "defaultValue": "main"}, {"name": "team"}])
}

fn check(deploy_1: Value, deploy_2: Value) -> Result<(), ApiError> {
    check_declaration(&pipeline(deploy_1, deploy_2, declared()))
}

#[test]
fn references_to_earlier_namespaces_and_declared_variables_are_accepted() {
    check(
        json!({"namespace": "First", "configuration": {"X": "#{Src.ETag}#{variables.team}"}}),
        json!({"configuration": {"X": "#{First.out}#{codepipeline.PipelineExecutionId}"}}),
    )
    .unwrap();
}

#[test]
fn a_namespace_no_earlier_action_declares_is_refused_with_awss_message() {
    let same_order = check(
        json!({"configuration": {"X": "#{Later.out}"}}),
        json!({"namespace": "Later"}),
    )
    .unwrap_err();
    assert_eq!(same_order.code, "InvalidActionDeclarationException");
    assert!(
        same_order.message.ends_with(
            "referencing a namespace that does not exist.\nStageName=[Deploy], ActionName=[A], \
             ActionConfigurationKey=[X], VariableReferenceText=[Later.out]"
        ),
        "{}",
        same_order.message
    );
    let mut v1 = pipeline(
        json!({"configuration": {"X": "#{variables.branch}"}}),
        json!({}),
        json!([]),
    );
    v1.extra.remove("pipelineType");
    let err = check_declaration(&v1).unwrap_err();
    assert!(
        err.message.contains("namespace that does not exist"),
        "{}",
        err.message
    );
}

#[test]
fn undeclared_and_source_uses_of_pipeline_variables_are_refused() {
    let err = check(
        json!({"configuration": {"X": "#{variables.nope}"}}),
        json!({}),
    )
    .unwrap_err();
    assert_eq!(err.code, "InvalidActionDeclarationException");
    assert!(
        err.message
            .starts_with("The referenced variables haven't been declared.\n")
    );
    let mut p = pipeline(json!({}), json!({}), declared());
    p.stages[0].actions[0]
        .configuration
        .insert("S3ObjectKey".into(), "#{variables.branch}.zip".into());
    let err = check_declaration(&p).unwrap_err();
    assert!(
        err.message
            .starts_with("Variables at the pipeline level cannot be used in source actions.")
    );
}

#[test]
fn namespaces_are_unique_unreserved_and_not_artifact_names() {
    let err = check(json!({"namespace": "Src"}), json!({})).unwrap_err();
    assert_eq!(
        err.message,
        "Namespaces must be unique across the pipeline definition. The following occur more than \
         once in the pipeline. StageName=[Deploy], ActionName=[A], Namespace=[Src]"
    );
    for reserved in ["codepipeline", "variables", "SourceOutput"] {
        let err = check(json!({"namespace": reserved}), json!({})).unwrap_err();
        assert_eq!(err.code, "InvalidActionDeclarationException", "{reserved}");
    }
    let err = check(json!({"namespace": "a.b"}), json!({})).unwrap_err();
    assert_eq!(err.code, "ValidationException");
}

#[test]
fn variable_declarations_follow_the_api_model() {
    let with = |variables: Value| check_declaration(&pipeline(json!({}), json!({}), variables));
    assert_eq!(
        with(json!([{"name": "a b"}])).unwrap_err().code,
        "ValidationException"
    );
    assert_eq!(
        with(json!([{"name": "a", "defaultValue": ""}]))
            .unwrap_err()
            .code,
        "ValidationException"
    );
    let long = "x".repeat(129);
    assert_eq!(
        with(json!([{"name": long}])).unwrap_err().code,
        "ValidationException"
    );
    let many: Vec<Value> = (0..51).map(|i| json!({"name": format!("v{i}")})).collect();
    assert_eq!(with(json!(many)).unwrap_err().code, "ValidationException");
    assert_eq!(
        with(json!([{"name": "a"}, {"name": "a"}]))
            .unwrap_err()
            .code,
        "InvalidStructureException"
    );
    let mut v1 = pipeline(json!({}), json!({}), declared());
    v1.extra.insert("pipelineType".into(), json!("V1"));
    assert_eq!(
        check_declaration(&v1).unwrap_err().code,
        "InvalidStructureException"
    );
}

fn given(pairs: &[(&str, &str)]) -> Vec<PipelineVariable> {
    pairs
        .iter()
        .map(|(n, v)| PipelineVariable {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect()
}

#[test]
fn an_execution_takes_given_values_then_defaults_in_declaration_order() {
    let declared: Vec<PipelineVariableDeclaration> = serde_json::from_value(declared()).unwrap();
    let values = execution_values(&declared, Some(&given(&[("team", "blue")]))).unwrap();
    assert_eq!(
        values,
        vec![
            ("branch".to_string(), "main".to_string()),
            ("team".to_string(), "blue".to_string())
        ]
    );
    let both = given(&[("team", "t"), ("branch", "#{variables.team}")]);
    let values = execution_values(&declared, Some(&both)).unwrap();
    assert_eq!(
        values[0].1, "#{variables.team}",
        "a given value is taken as it is"
    );
}

#[test]
fn a_start_without_a_required_value_or_with_unknown_or_repeated_names_is_refused() {
    let declared: Vec<PipelineVariableDeclaration> = serde_json::from_value(declared()).unwrap();
    let err = execution_values(&declared, None).unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            "ValidationException",
            "Values for required variables haven't been provided: team"
        )
    );
    for bad in [
        given(&[("team", "a"), ("team", "b")]),
        given(&[("team", "a"), ("colour", "red")]),
        given(&[("team", "")]),
        given(&[("te am", "a")]),
    ] {
        assert_eq!(
            execution_values(&declared, Some(&bad)).unwrap_err().code,
            "ValidationException"
        );
    }
}
