//! When an update is known to change nothing without asking CloudFormation
//! (pure): the one shortcut update-stack may take around a change set.
//!
//! A change set is CloudFormation's verdict and the truth; making one takes
//! seconds on AWS. Equal inputs give an empty change set only when
//! nothing outside the template and its parameters feeds into what the
//! stack becomes. So the shortcut holds only when all of these do:
//! - the stack runs this exact template body;
//! - the input names every parameter the stack has, each with the value it
//!   runs, and no other: a parameter left out would fall back to its
//!   template default (CloudFormation API reference, Parameter), which the
//!   stack may not run;
//! - no value is masked (a NoEcho parameter reads back as `****`);
//! - the same tags and the same service role;
//! - the template has nothing resolved at deploy time: no `Transform`
//!   (SAM, `AWS::Include`, macros expand anew), no `AWS::SSM::Parameter::`
//!   parameter types (the value is looked up at each deploy), no dynamic
//!   references (`{{resolve:…}}`), no nested stacks or modules (their own
//!   templates may have changed).
//!
//! Anything else goes through a change set. The checks on the template are
//! textual, so they can only err towards making a change set.

use std::collections::BTreeMap;

/// What the stack runs, and what the input asks for, but the running
/// template's text: that takes a GetTemplate, made only when nothing else
/// decides.
pub struct Comparison<'a> {
    pub wanted_template: &'a str,
    pub running_parameters: &'a BTreeMap<String, String>,
    pub wanted_parameters: &'a BTreeMap<String, String>,
    pub running_tags: &'a BTreeMap<String, String>,
    pub wanted_tags: &'a BTreeMap<String, String>,
    pub running_role: Option<&'a str>,
    pub wanted_role: Option<&'a str>,
}

/// Markers of what a template resolves at deploy time.
const RESOLVED_AT_DEPLOY: &[&str] = &[
    "Transform",
    "AWS::SSM::Parameter::",
    "{{resolve:",
    "AWS::CloudFormation::Stack",
    "::MODULE",
];

/// True only when the update provably changes nothing (see the module):
/// nothing in `c` needs a change set and the stack runs this very template.
pub fn provably_unchanged(c: &Comparison, running_template: Option<&str>) -> bool {
    why_a_change_set(c).is_none() && running_template == Some(c.wanted_template)
}

/// The first reason, short of the template's text, that the update needs a
/// change set, if any.
pub fn why_a_change_set(c: &Comparison) -> Option<&'static str> {
    if let Some(marker) = RESOLVED_AT_DEPLOY
        .iter()
        .find(|marker| c.wanted_template.contains(*marker))
    {
        return Some(match *marker {
            "Transform" => "the template has a Transform",
            "AWS::SSM::Parameter::" => "the template has SSM parameter types",
            "{{resolve:" => "the template has dynamic references",
            _ => "the template has nested stacks or modules",
        });
    }
    if c.running_parameters.values().any(|v| v == "****") {
        return Some("a NoEcho parameter cannot be compared");
    }
    if c.running_parameters != c.wanted_parameters {
        return Some("the parameters differ from the stack's, or leave some to their defaults");
    }
    if c.running_tags != c.wanted_tags {
        return Some("the tags differ");
    }
    if c.running_role != c.wanted_role {
        return Some("the service role differs");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "Parameters:\n  Greeting:\n    Type: String\n    Default: hello\n\
                            Resources:\n  Q:\n    Type: AWS::SQS::Queue\n";

    /// Key-value pairs, as written in a test.
    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn map(pairs: Pairs) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `provably_unchanged` against a stack running TEMPLATE.
    fn with(
        template: &str,
        running: Pairs,
        wanted: Pairs,
        tags: (Pairs, Pairs),
        roles: (Option<&str>, Option<&str>),
    ) -> bool {
        let (running, wanted) = (map(running), map(wanted));
        let (running_tags, wanted_tags) = (map(tags.0), map(tags.1));
        let comparison = Comparison {
            wanted_template: template,
            running_parameters: &running,
            wanted_parameters: &wanted,
            running_tags: &running_tags,
            wanted_tags: &wanted_tags,
            running_role: roles.0,
            wanted_role: roles.1,
        };
        provably_unchanged(&comparison, Some(TEMPLATE))
    }

    const SAME: Pairs = &[("Greeting", "hi")];
    const NO_TAGS: (Pairs, Pairs) = (&[], &[]);

    #[test]
    fn the_same_template_parameters_tags_and_role_are_unchanged() {
        assert!(with(TEMPLATE, SAME, SAME, NO_TAGS, (None, None)));
    }

    #[test]
    fn a_parameter_left_out_of_the_input_may_change_to_its_default() {
        assert!(!with(TEMPLATE, SAME, &[], NO_TAGS, (None, None)));
    }

    #[test]
    fn another_value_template_tag_or_role_is_a_change() {
        assert!(!with(
            TEMPLATE,
            SAME,
            &[("Greeting", "yo")],
            NO_TAGS,
            (None, None)
        ));
        let other = format!("{TEMPLATE}  R:\n    Type: AWS::SQS::Queue\n");
        assert!(!with(&other, SAME, SAME, NO_TAGS, (None, None)));
        assert!(!with(
            TEMPLATE,
            SAME,
            SAME,
            (&[], &[("team", "a")]),
            (None, None)
        ));
        assert!(!with(
            TEMPLATE,
            SAME,
            SAME,
            NO_TAGS,
            (None, Some("arn:aws:iam::1:role/cfn"))
        ));
    }

    #[test]
    fn a_masked_noecho_value_cannot_be_compared() {
        let masked = &[("Greeting", "****")];
        assert!(!with(TEMPLATE, masked, masked, NO_TAGS, (None, None)));
    }

    #[test]
    fn what_is_resolved_at_deploy_time_always_goes_through_a_change_set() {
        for marker in [
            "Transform: AWS::Serverless-2016-10-31\n",
            "  S:\n    Type: AWS::SSM::Parameter::Value<String>\n",
            "  V: '{{resolve:ssm:/app/version}}'\n",
            "  N:\n    Type: AWS::CloudFormation::Stack\n",
            "  M:\n    Type: My::Shared::Bucket::MODULE\n",
        ] {
            let template = format!("{TEMPLATE}{marker}");
            let running = map(SAME);
            let tags = map(&[]);
            let same_template = Comparison {
                wanted_template: &template,
                running_parameters: &running,
                wanted_parameters: &running,
                running_tags: &tags,
                wanted_tags: &tags,
                running_role: None,
                wanted_role: None,
            };
            assert!(
                !provably_unchanged(&same_template, Some(&template)),
                "{marker}"
            );
        }
    }
}
