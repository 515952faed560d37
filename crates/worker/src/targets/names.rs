//! What AWS accepts as a region, an account id, a role ARN and an alarm
//! name, and what cpsf accepts as a target's name (pure). Each check says
//! why a value is refused, so `spec.rs` can tell the user what to write.

use super::limits::{MAX_ALARM_NAME, MAX_ALARM_NAMES, MAX_NAME};
use crate::base::text::json_kind;
use serde_json::Value;

/// The partitions an IAM role ARN may name (botocore's endpoints.json
/// `partitions`): credentials and roles never cross them.
const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// Why `name` cannot name a target, or None. Letters, digits and hyphens,
/// starting with a letter, at most [`MAX_NAME`]: the name is then, as it
/// stands, a valid part of a CodePipeline output variable key
/// (`[A-Za-z0-9@\-_]+`; `_` is kept out so that the one `_` in
/// `<name>_StackId` separates the name from the suffix), of a CloudFormation
/// ClientRequestToken or change set name (`[a-zA-Z][-a-zA-Z0-9]*`,
/// CloudFormation API reference) and of a Step Functions state or execution
/// name, so no handler ever has to escape it.
pub fn target_name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    if len == 0 {
        return Some("it is empty".into());
    }
    if len > MAX_NAME {
        return Some(format!("it is {len} characters long"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("it does not start with a letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Some(format!("it holds {bad:?}"));
    }
    None
}

/// Why `region` is not an AWS region name, or None. Region names are
/// `<area>-<place>-<n>` with an optional partition infix: `us-east-1`,
/// `eu-west-1`, `ap-southeast-4`, `us-gov-west-1`, `cn-north-1`,
/// `us-isob-east-1`, `eusc-de-east-1` (the regexes of botocore's
/// endpoints.json `regionRegex`, one per partition).
pub fn region_problem(region: &str) -> Option<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let lower = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    let digits = |p: &str| (1..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit());
    let last = parts.last().copied().unwrap_or_default();
    let shaped = (3..=4).contains(&parts.len())
        && (2..=4).contains(&parts[0].len())
        && parts[..parts.len() - 1].iter().all(|p| lower(p));
    if shaped && digits(last) {
        return None;
    }
    // `us-east-1a` is an Availability Zone: say which region it is in.
    if shaped && last.len() >= 2 {
        let (number, letter) = last.split_at(last.len() - 1);
        if digits(number) && lower(letter) {
            let (zone, region) = (region, &region[..region.len() - 1]);
            return Some(format!(
                "'{zone}' is an Availability Zone; its region is '{region}'"
            ));
        }
    }
    Some(format!(
        "'{region}' is not an AWS region name (like us-east-1, eu-west-1, ap-southeast-4, \
         us-gov-west-1 or cn-north-1)"
    ))
}

/// The partition a well-formed region belongs to (the `regionRegex` of each
/// partition in botocore's endpoints.json).
pub fn partition(region: &str) -> &'static str {
    const INFIXES: &[(&str, &str)] = &[
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-iso-", "aws-iso"),
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("eu-isoe-", "aws-iso-e"),
        ("eusc-", "aws-eusc"),
    ];
    INFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// An AWS account id is exactly 12 digits (IAM user guide, "Your AWS
/// account ID"); leading zeros are part of it.
pub fn is_account(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}

/// The parts of an IAM role ARN that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn<'a> {
    pub partition: &'a str,
    pub account: &'a str,
}

/// `arn:<partition>:iam::<account>:role/[<path>/]<name>`, or why not. The
/// role name is 1..64 of `[A-Za-z0-9+=,.@_-]` (IAM API reference, Role);
/// STS takes a RoleArn of 20..2,048 characters (STS API reference,
/// AssumeRole); IAM is global, so the region field is empty.
pub fn role_arn(arn: &str) -> Result<RoleArn<'_>, String> {
    if !(20..=2048).contains(&arn.len()) {
        return Err(format!("it is {} characters long", arn.len()));
    }
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = fields[..] else {
        return Err("it does not have the six fields of an ARN".into());
    };
    if scheme != "arn" {
        return Err("it does not start with 'arn:'".into());
    }
    if !PARTITIONS.contains(&partition) {
        return Err(format!("'{partition}' is not an AWS partition"));
    }
    if service == "sts" {
        return Err("it is an STS session ARN, not the role's own".into());
    }
    if service != "iam" || !region.is_empty() {
        return Err("it does not name IAM (`:iam::`)".into());
    }
    if !is_account(account) {
        return Err(format!("'{account}' is not a 12-digit account id"));
    }
    let Some(path_and_name) = resource.strip_prefix("role/") else {
        return Err("its resource does not start with 'role/'".into());
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    let path_ok = path_and_name.chars().all(|c| c.is_ascii_graphic());
    if !name_ok || !path_ok {
        return Err(format!("'{name}' is not an IAM role name"));
    }
    Ok(RoleArn { partition, account })
}

/// Why `name` cannot be passed to DescribeAlarms, or None: `AlarmNames`
/// members and `AlarmNamePrefix` are 1..255 characters (CloudWatch API
/// reference, DescribeAlarms).
pub fn alarm_name_problem(name: &str) -> Option<String> {
    let len = name.chars().count();
    (len == 0 || len > MAX_ALARM_NAME).then(|| {
        format!("it is {len} characters long; CloudWatch alarm names are 1 to {MAX_ALARM_NAME}")
    })
}

/// The alarm names `value` lists, as DescribeAlarms takes them (at most
/// [`MAX_ALARM_NAMES`], each a name), every problem named after `field`:
/// a rollout's `bake.alarms`, a canary's `canary.alarms`; `more` follows
/// the problem of too many names.
pub fn alarm_names(
    field: &str,
    value: Option<&Value>,
    more: &str,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    let Some(list) = value.as_array() else {
        problems.push(format!(
            "{field} must be a list of CloudWatch alarm names; it is {}",
            json_kind(value)
        ));
        return Vec::new();
    };
    if list.len() > MAX_ALARM_NAMES {
        problems.push(format!(
            "{field} names {} alarms; DescribeAlarms takes at most {MAX_ALARM_NAMES} names \
             (CloudWatch API reference){more}",
            list.len()
        ));
    }
    let mut names = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item {
            Value::String(name) => match alarm_name_problem(name) {
                None => names.push(name.clone()),
                Some(why) => problems.push(format!("{field}[{i}] cannot be an alarm name: {why}")),
            },
            other => problems.push(format!(
                "{field}[{i}] must be an alarm name (a string); it is {}",
                json_kind(other)
            )),
        }
    }
    names
}

/// Why `name` is no S3 general purpose bucket name, or None: 3 to 63
/// lowercase letters, digits, dots and hyphens, starting and ending with
/// a letter or digit (S3 user guide, "General purpose bucket naming
/// rules").
pub fn bucket_name_problem(name: &str) -> Option<String> {
    let len = name.len();
    let allowed = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !(3..=63).contains(&len) {
        return Some(format!(
            "it is {len} characters long; bucket names are 3 to 63"
        ));
    }
    if !allowed || !ends(name.chars().next()) || !ends(name.chars().last()) {
        return Some(
            "bucket names are lowercase letters, digits, dots and hyphens, starting and ending \
             with a letter or digit"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_regions_pass_and_their_partitions_are_known() {
        for (region, part) in [
            ("us-east-1", "aws"),
            ("eu-west-1", "aws"),
            ("ap-southeast-4", "aws"),
            ("il-central-1", "aws"),
            ("us-gov-west-1", "aws-us-gov"),
            ("cn-north-1", "aws-cn"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert_eq!(region_problem(region), None, "{region}");
            assert_eq!(partition(region), part, "{region}");
        }
    }

    #[test]
    fn malformed_regions_are_refused_and_zones_named() {
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us_east_1",
            "useast1",
            "us-east-100",
            "x-east-1",
        ] {
            assert!(region_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(
            region_problem("us-east-1a").unwrap(),
            "'us-east-1a' is an Availability Zone; its region is 'us-east-1'"
        );
    }

    #[test]
    fn role_arns_are_read_or_refused_with_the_reason() {
        let arn = role_arn("arn:aws:iam::222222222222:role/ops/cpsf-target").unwrap();
        assert_eq!((arn.partition, arn.account), ("aws", "222222222222"));
        assert_eq!(
            role_arn("arn:aws-cn:iam::222222222222:role/r")
                .unwrap()
                .partition,
            "aws-cn"
        );
        for (bad, why) in [
            ("arn:aws:sts::222222222222:assumed-role/r/s", "STS session"),
            ("arn:aws:iam::22222222222:role/r", "12-digit"),
            ("arn:aws:iam::222222222222:user/someone", "'role/'"),
            ("arn:aws:iam:us-east-1:222222222222:role/r", "`:iam::`"),
            ("arn:awz:iam::222222222222:role/r", "partition"),
            ("arn:aws:iam::222222222222:role/bad name", "role name"),
            ("not-an-arn-but-long-enough", "six fields"),
        ] {
            let error = role_arn(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn target_names_are_letters_digits_and_hyphens() {
        assert_eq!(target_name_problem("prod-use1"), None);
        assert_eq!(target_name_problem(&"a".repeat(MAX_NAME)), None);
        assert!(target_name_problem(&"a".repeat(MAX_NAME + 1)).is_some());
        assert_eq!(target_name_problem("a_b").unwrap(), "it holds '_'");
        assert_eq!(
            target_name_problem("1a").unwrap(),
            "it does not start with a letter"
        );
        assert_eq!(target_name_problem("").unwrap(), "it is empty");
    }
}
