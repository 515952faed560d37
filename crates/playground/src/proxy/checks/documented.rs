//! Limits AWS documents and enforces that botocore's models leave out, added
//! to the model as if it had them, so a request breaking one is answered as
//! AWS answers it. Each says where AWS documents it.

use super::model::{Kind, Length, Model, Pattern, Shape, compile};

/// Adds the documented limits of the service whose model folder is `folder`.
pub fn add_to(folder: &str, model: &mut Model) {
    if folder == "cloudformation" {
        // CloudFormation API reference, CreateStack, StackName: "A stack
        // name can contain only alphanumeric characters (case sensitive)
        // and hyphens. It must start with an alphabetical character and
        // can't be longer than 128 characters." Only where a stack is
        // named: elsewhere (CreateChangeSet too) the same shape also takes a
        // stack id (an ARN).
        let stack_name = model.add_shape(Shape {
            kind: Kind::String {
                length: Length {
                    min: Some(1),
                    max: Some(128),
                },
                pattern: Some(pattern("[a-zA-Z][-a-zA-Z0-9]*")),
                enum_values: None,
            },
            sensitive: false,
        });
        point_member(model, "CreateStackInput", "StackName", stack_name);
        // CloudFormation user guide, "Understand CloudFormation quotas":
        // "Template body size in a request: 51,200 bytes" (larger
        // templates go by TemplateURL from S3).
        if let Some(id) = model.shape_named("TemplateBody")
            && let Kind::String { length, .. } = &mut model.shape_mut(id).kind
        {
            length.max = Some(51_200);
        }
    }
}

fn pattern(source: &str) -> Pattern {
    Pattern {
        source: source.to_string(),
        regex: compile(source),
    }
}

/// Makes `structure`'s `member` use the shape `to`.
fn point_member(model: &mut Model, structure: &str, member: &str, to: usize) {
    let Some(id) = model.shape_named(structure) else {
        return;
    };
    if let Kind::Structure(members) = &mut model.shape_mut(id).kind
        && let Some(found) = members.iter_mut().find(|m| m.name == member)
    {
        found.shape = to;
    }
}
