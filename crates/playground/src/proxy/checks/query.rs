//! An AWS Query request (a form: `Action=CreateStack&StackName=app&
//! Parameters.member.1.ParameterKey=Env&…`) read back into the structure
//! its input shape describes, so `validate.rs` checks it as it checks a JSON
//! body. The names follow the Query protocol's serialization: members by
//! `locationName` (else their name), list items as `Name.member.N` (or
//! `Name.N` when flattened), map entries as `Name.entry.N.key` /
//! `Name.entry.N.value`, an empty list as `Name=`.

use super::model::{Kind, Model, ShapeId};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The form's fields by name.
pub type Form = BTreeMap<String, String>;

/// Decodes a form body (`application/x-www-form-urlencoded`).
pub fn parse_form(body: &[u8]) -> Form {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The operation's input as the JSON structure of `shape`.
pub fn to_json(model: &Model, shape: ShapeId, form: &Form) -> Value {
    read(model, shape, "", form).unwrap_or_else(|| Value::Object(Map::new()))
}

fn read(model: &Model, id: ShapeId, prefix: &str, form: &Form) -> Option<Value> {
    match &model.shape(id).kind {
        Kind::Structure(members) => {
            let mut object = Map::new();
            for member in members {
                let at = join(prefix, &member.serialized);
                let value = if member.flattened {
                    read_flattened(model, member.shape, &at, form)
                } else {
                    read(model, member.shape, &at, form)
                };
                if let Some(value) = value {
                    object.insert(member.name.clone(), value);
                }
            }
            (prefix.is_empty() || !object.is_empty()).then_some(Value::Object(object))
        }
        Kind::List {
            member,
            item_name,
            flattened,
            ..
        } => {
            if *flattened {
                return read_flattened(model, id, prefix, form);
            }
            if form.get(prefix).is_some_and(String::is_empty) {
                return Some(Value::Array(Vec::new()));
            }
            let items_at = join(prefix, item_name.as_deref().unwrap_or("member"));
            items(model, *member, &items_at, form)
        }
        Kind::Map {
            value,
            key_name,
            value_name,
            flattened,
            ..
        } => {
            let entries_at = if *flattened {
                prefix.to_string()
            } else {
                join(prefix, "entry")
            };
            let mut object = Map::new();
            for index in indices(&entries_at, form) {
                let entry = format!("{entries_at}.{index}");
                let key = form.get(&join(&entry, key_name.as_deref().unwrap_or("key")));
                let at = join(&entry, value_name.as_deref().unwrap_or("value"));
                if let (Some(key), Some(value)) = (key, read(model, *value, &at, form)) {
                    object.insert(key.clone(), value);
                }
            }
            (!object.is_empty()).then_some(Value::Object(object))
        }
        Kind::Number { .. } => form.get(prefix).map(|text| {
            text.parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<f64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(text.clone()))
        }),
        Kind::Boolean => form.get(prefix).map(|text| match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.clone()),
        }),
        Kind::String { .. } | Kind::Unchecked => {
            form.get(prefix).map(|text| Value::String(text.clone()))
        }
    }
}

/// A flattened list: its items directly under the member's name.
fn read_flattened(model: &Model, id: ShapeId, prefix: &str, form: &Form) -> Option<Value> {
    match &model.shape(id).kind {
        Kind::List { member, .. } => items(model, *member, prefix, form),
        _ => read(model, id, prefix, form),
    }
}

fn items(model: &Model, member: ShapeId, items_at: &str, form: &Form) -> Option<Value> {
    let items: Vec<Value> = indices(items_at, form)
        .into_iter()
        .filter_map(|index| read(model, member, &format!("{items_at}.{index}"), form))
        .collect();
    (!items.is_empty()).then_some(Value::Array(items))
}

/// The item numbers under `prefix` (`prefix.1`, `prefix.2.Key`, …), in order.
fn indices(prefix: &str, form: &Form) -> Vec<u64> {
    let start = format!("{prefix}.");
    let mut found: Vec<u64> = form
        .range(start.clone()..)
        .take_while(|(name, _)| name.starts_with(&start))
        .filter_map(|(name, _)| name[start.len()..].split('.').next()?.parse().ok())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
