//! A YAML template as JSON (pure), for the steps' templates: CloudFormation
//! templates may be YAML with the short forms of intrinsic functions
//! (`!Ref X`, `!GetAtt A.B`, `!Sub …`), which are the long forms in JSON
//! (CloudFormation user guide, "Intrinsic function reference": `!Ref` is
//! `{"Ref": …}`, `!Condition` `{"Condition": …}`, `!GetAtt A.B`
//! `{"Fn::GetAtt": ["A", "B"]}`, any other `!Name` `{"Fn::Name": …}`).

use serde_json::{Map, Value, json};
use yaml_serde::Value as Yaml;

pub fn to_json(body: &str) -> Result<Value, String> {
    let yaml: Yaml = yaml_serde::from_str(body)
        .map_err(|e| format!("the template is neither JSON nor YAML: {e}"))?;
    convert(yaml)
}

fn convert(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => json!(b),
        Yaml::Number(n) => serde_json::to_value(&n).map_err(|e| e.to_string())?,
        Yaml::String(s) => json!(s),
        Yaml::Sequence(items) => {
            Value::Array(items.into_iter().map(convert).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key that is no scalar: {other:?}")),
                };
                object.insert(key, convert(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let value = convert(tagged.value)?;
            match name {
                "Ref" => json!({"Ref": value}),
                "Condition" => json!({"Condition": value}),
                "GetAtt" => match value {
                    Value::String(dotted) => {
                        let (resource, attribute) = dotted.split_once('.').ok_or_else(|| {
                            format!("!GetAtt {dotted} names no attribute (Resource.Attribute)")
                        })?;
                        json!({"Fn::GetAtt": [resource, attribute]})
                    }
                    other => json!({"Fn::GetAtt": other}),
                },
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_become_long_forms() {
        let body = "Resources:\n  Live:\n    Type: AWS::Lambda::Alias\n    Properties:\n      \
                    FunctionName: !Ref Fn\n      Name: !Sub '${AWS::StackName}-live'\n      \
                    FunctionVersion: !GetAtt V2.Version\n      Description: !If [Prod, a, !Ref AWS::NoValue]\n";
        let template = to_json(body).unwrap();
        let alias = &template["Resources"]["Live"]["Properties"];
        assert_eq!(alias["FunctionName"], json!({"Ref": "Fn"}));
        assert_eq!(alias["Name"], json!({"Fn::Sub": "${AWS::StackName}-live"}));
        assert_eq!(
            alias["FunctionVersion"],
            json!({"Fn::GetAtt": ["V2", "Version"]})
        );
        assert_eq!(
            alias["Description"],
            json!({"Fn::If": ["Prod", "a", {"Ref": "AWS::NoValue"}]})
        );
        assert!(to_json("a: [").is_err());
    }
}
