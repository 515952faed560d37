//! Test-only: the part of Amazon States Language's JSONPath processing that
//! statemachines/deploy.asl.json uses, so a unit test can follow what the
//! definition really does to a state's input and output (Step Functions
//! developer guide, "Processing input and output in Step Functions":
//! InputPath → Parameters/ItemSelector → the task → ResultSelector →
//! ResultPath → OutputPath), rather than a copy of it.
//!
//! Covered: reference paths `$`, `$.a.b` and the context object's
//! `$$.Execution.Id`, `$$.StateMachine.Id`, `$$.Map.Item.Value`,
//! `$$.Task.Token`; payload templates with `.$` keys; the intrinsics the
//! definition calls (`States.ArrayGetItem`, `States.JsonMerge`); a
//! `ResultPath` that is absent (`$`), `null` (the input unchanged) or a
//! path. A path that is not there panics, as Step Functions fails the
//! state with `States.Runtime`.

use serde_json::{Map, Value};

/// The context object's fields the definition reads.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub execution_id: String,
    pub state_machine_id: String,
    pub task_token: String,
    pub item: Option<Value>,
}

/// `p` (a reference path or a context path) in `doc`.
pub fn path(doc: &Value, ctx: &Context, p: &str) -> Value {
    if let Some(field) = p.strip_prefix("$$.") {
        return match field {
            "Execution.Id" => Value::String(ctx.execution_id.clone()),
            "StateMachine.Id" => Value::String(ctx.state_machine_id.clone()),
            // ISO 8601 with milliseconds, as Step Functions writes it.
            "Execution.StartTime" => Value::String("2026-12-06T10:00:00.000Z".into()),
            "Task.Token" => Value::String(ctx.task_token.clone()),
            "Map.Item.Value" => ctx.item.clone().expect("$$.Map.Item.Value outside a Map"),
            other => panic!("context path $$.{other} is not covered"),
        };
    }
    let rest = p
        .strip_prefix('$')
        .unwrap_or_else(|| panic!("not a path: {p}"));
    let mut at = doc;
    for key in rest.split('.').filter(|k| !k.is_empty()) {
        at = at
            .get(key)
            .unwrap_or_else(|| panic!("States.Runtime: {p} is not in the input"));
    }
    at.clone()
}

/// A payload template (Parameters, ItemSelector, ResultSelector) applied
/// to `input`.
pub fn payload(template: &Value, input: &Value, ctx: &Context) -> Value {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match (key.strip_suffix(".$"), value) {
                    (Some(name), Value::String(expr)) => {
                        out.insert(name.to_string(), expression(expr, input, ctx));
                    }
                    _ => {
                        out.insert(key.clone(), payload(value, input, ctx));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| payload(i, input, ctx)).collect()),
        other => other.clone(),
    }
}

fn expression(expr: &str, input: &Value, ctx: &Context) -> Value {
    let expr = expr.trim();
    if let Some(call) = expr.strip_prefix("States.") {
        let open = call.find('(').expect("an intrinsic call");
        let name = &call[..open];
        let inner = call[open + 1..]
            .strip_suffix(')')
            .expect("an intrinsic call ends with )");
        let args: Vec<Value> = split_args(inner)
            .iter()
            .map(|a| expression(a, input, ctx))
            .collect();
        return match (name, args.as_slice()) {
            ("ArrayGetItem", [Value::Array(items), Value::Number(i)]) => {
                items[i.as_u64().unwrap() as usize].clone()
            }
            ("JsonMerge", [Value::Object(a), Value::Object(b), Value::Bool(false)]) => {
                let mut merged = a.clone();
                merged.extend(b.clone());
                Value::Object(merged)
            }
            _ => panic!("intrinsic States.{name} with {args:?} is not covered"),
        };
    }
    if expr.starts_with('$') {
        return path(input, ctx, expr);
    }
    if let Some(text) = expr.strip_prefix('\'').and_then(|e| e.strip_suffix('\'')) {
        return Value::String(text.to_string());
    }
    serde_json::from_str(expr).unwrap_or_else(|_| panic!("argument {expr} is not covered"))
}

/// An intrinsic's arguments, split at the commas outside nested calls and
/// quotes.
fn split_args(inner: &str) -> Vec<String> {
    let (mut args, mut current, mut depth, mut quoted) = (Vec::new(), String::new(), 0, false);
    for c in inner.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                args.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        args.push(current);
    }
    args
}

/// `result` placed in `input` as `ResultPath` says (`result_path` is the
/// state's field: None when absent).
pub fn put(input: &Value, result_path: Option<&Value>, result: Value) -> Value {
    let target = match result_path {
        None => return result,
        Some(Value::Null) => return input.clone(),
        Some(Value::String(p)) if p == "$" => return result,
        Some(Value::String(p)) => p.clone(),
        Some(other) => panic!("ResultPath {other} is not covered"),
    };
    let mut out = input.clone();
    let keys: Vec<&str> = target
        .strip_prefix("$.")
        .expect("a ResultPath")
        .split('.')
        .collect();
    let mut at = &mut out;
    for key in &keys[..keys.len() - 1] {
        if !at.get(*key).is_some_and(Value::is_object) {
            at[*key] = Value::Object(Map::new());
        }
        at = &mut at[*key];
    }
    at[keys[keys.len() - 1]] = result;
    out
}

/// The effective input of `state` (InputPath, then Parameters or, for a
/// Map's iterations, ItemSelector is applied by the caller).
pub fn effective_input(state: &Value, raw: &Value, ctx: &Context) -> Value {
    let input = match state.get("InputPath") {
        Some(Value::String(p)) => path(raw, ctx, p),
        Some(Value::Null) => Value::Object(Map::new()),
        _ => raw.clone(),
    };
    match state.get("Parameters") {
        Some(template) => payload(template, &input, ctx),
        None => input,
    }
}

/// The state's output from its raw input and its result: ResultSelector,
/// ResultPath, OutputPath.
pub fn output(state: &Value, raw: &Value, result: Value, ctx: &Context) -> Value {
    let selected = match state.get("ResultSelector") {
        Some(template) => payload(template, &result, ctx),
        None => result,
    };
    let placed = put(raw, state.get("ResultPath"), selected);
    match state.get("OutputPath") {
        Some(Value::String(p)) => path(&placed, ctx, p),
        Some(Value::Null) => Value::Object(Map::new()),
        _ => placed,
    }
}

/// What a Pass state outputs: its Parameters (or Result) placed by
/// ResultPath, then OutputPath.
pub fn pass(state: &Value, raw: &Value, ctx: &Context) -> Value {
    let result = match state.get("Result") {
        Some(result) => result.clone(),
        None => effective_input(state, raw, ctx),
    };
    let placed = put(raw, state.get("ResultPath"), result);
    match state.get("OutputPath") {
        Some(Value::String(p)) => path(&placed, ctx, p),
        _ => placed,
    }
}

/// A catcher's output: the error `{Error, Cause}` placed in the state's
/// raw input by the catcher's ResultPath (Step Functions developer guide,
/// "Handling errors in Step Functions workflows": a Catch's ResultPath
/// defaults to `$`).
pub fn caught(catcher: &Value, raw: &Value, error: &str, cause: &str) -> Value {
    let error = serde_json::json!({"Error": error, "Cause": cause});
    put(raw, catcher.get("ResultPath"), error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_payloads_and_result_paths_follow_the_language() {
        let ctx = Context {
            execution_id: "arn:x".into(),
            item: Some(json!({"n": 1})),
            ..Context::default()
        };
        let input =
            json!({"plan": {"waves": [[1], [2]], "at": 1, "shared": {"a": 1}}, "t": {"b": 2}});
        let made = payload(
            &json!({"wave.$": "States.ArrayGetItem($.plan.waves, $.plan.at)",
                    "merged.$": "States.JsonMerge($.plan.shared, $.t, false)",
                    "item.$": "$$.Map.Item.Value", "id.$": "$$.Execution.Id", "fixed": {"k": "v"}}),
            &input,
            &ctx,
        );
        assert_eq!(
            made,
            json!({"wave": [2], "merged": {"a": 1, "b": 2}, "item": {"n": 1}, "id": "arn:x", "fixed": {"k": "v"}})
        );
        assert_eq!(put(&input, None, json!(1)), json!(1));
        assert_eq!(put(&input, Some(&Value::Null), json!(1)), input);
        assert_eq!(
            put(&json!({"a": {"b": 1}}), Some(&json!("$.a.c")), json!(2)),
            json!({"a": {"b": 1, "c": 2}})
        );
    }
}
