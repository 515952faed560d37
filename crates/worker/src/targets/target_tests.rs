//! One target's rules, each with the exact message a user reads.

use super::*;
use serde_json::json;

const ROLE: &str = "arn:aws:iam::222222222222:role/cpsf-target";

fn problems(target: Value) -> Vec<String> {
    let mut problems = Vec::new();
    parse(3, &target, &mut problems);
    problems
}

fn one(target: Value) -> String {
    let mut all = problems(target);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

#[test]
fn a_full_target_is_read() {
    let mut problems = Vec::new();
    let target = parse(
        0,
        &json!({"name": "prod-use1", "account": "222222222222", "region": "us-east-1",
                "roleArn": ROLE, "cloudFormationRoleArn": "arn:aws:iam::222222222222:role/cpsf-cfn",
                "parameters": {"Stage": "prod", "Size": 3},
                "stagingBucket": "cpsf-staging-222222222222-us-east-1"}),
        &mut problems,
    )
    .unwrap();
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(target.account.as_deref(), Some("222222222222"));
    assert_eq!(target.parameters["Size"], json!(3));
}

#[test]
fn a_staging_bucket_must_be_a_bucket_name() {
    let spelled = "bucket names are lowercase letters, digits, dots and hyphens, starting and \
                   ending with a letter or digit";
    for (bucket, why) in [
        ("ab", "it is 2 characters long; bucket names are 3 to 63"),
        ("Cpsf-Staging", spelled),
        ("cpsf-staging-", spelled),
    ] {
        assert_eq!(
            one(json!({"name": "p", "region": "us-east-1", "stagingBucket": bucket})),
            format!("target 'p': stagingBucket is no S3 bucket name: {why}")
        );
    }
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "stagingBucket": 3})),
        "target 'p': stagingBucket must be a string; it is a number"
    );
}

#[test]
fn the_account_is_read_from_the_role_when_not_given() {
    let mut problems = Vec::new();
    let target = parse(
        0,
        &json!({"name": "p", "region": "eu-west-1", "roleArn": ROLE}),
        &mut problems,
    )
    .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(target.account.as_deref(), Some("222222222222"));
    let own = parse(
        0,
        &json!({"name": "tools", "region": "us-east-1"}),
        &mut problems,
    )
    .unwrap();
    assert_eq!((own.account, own.role_arn), (None, None));
}

#[test]
fn a_missing_or_malformed_name_says_what_a_name_may_be() {
    let rule = "use 1 to 40 letters, digits and hyphens, starting with a letter (the name becomes \
                the output variables <name>_StackId and <name>_Status)";
    assert_eq!(
        one(json!({"region": "us-east-1"})),
        format!("targets[3] has no name: {rule}")
    );
    assert_eq!(
        one(json!({"name": "prod_use1", "region": "us-east-1"})),
        format!("targets[3] name 'prod_use1' cannot name a target, it holds '_': {rule}")
    );
    assert_eq!(
        one(json!({"name": 7, "region": "us-east-1"})),
        format!("targets[3] name must be a string; it is a number: {rule}")
    );
    let long = "a".repeat(41);
    assert_eq!(
        one(json!({"name": long, "region": "us-east-1"})),
        format!("targets[3] name '{long}' cannot name a target, it is 41 characters long: {rule}")
    );
}

#[test]
fn a_missing_or_malformed_region_is_named() {
    assert_eq!(
        one(json!({"name": "p"})),
        "target 'p' has no region: give the AWS region it deploys to, e.g. \"region\": \"us-east-1\""
    );
    assert_eq!(
        one(json!({"name": "p", "region": "us-east"})),
        "target 'p': region 'us-east' is not an AWS region name (like us-east-1, eu-west-1, \
         ap-southeast-4, us-gov-west-1 or cn-north-1)"
    );
    assert_eq!(
        one(json!({"name": "p", "region": "eu-west-1b"})),
        "target 'p': region 'eu-west-1b' is an Availability Zone; its region is 'eu-west-1'"
    );
    assert_eq!(
        one(json!({"name": "p", "region": 1})),
        "target 'p': region must be a string; it is a number"
    );
}

#[test]
fn an_account_id_is_twelve_digits_in_a_string() {
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "account": "22222222222", "roleArn": ROLE})),
        "target 'p': account '22222222222' is not an AWS account id: give its 12 digits as a \
         string, e.g. \"account\": \"222222222222\""
    );
    assert_eq!(
        one(
            json!({"name": "p", "region": "us-east-1", "account": 22222222222_u64, "roleArn": ROLE})
        ),
        "target 'p': account 22222222222 must be a string: as a number an account id loses its \
         leading zeros; give its 12 digits as a string, e.g. \"account\": \"222222222222\""
    );
}

#[test]
fn another_account_needs_a_role_in_that_account() {
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "account": "222222222222"})),
        "target 'p' is in account 222222222222 but has no roleArn: the worker reaches another \
         account only by assuming a role there (STS AssumeRole); add the role's ARN as roleArn \
         (bootstrap/target-account.yaml makes one), or remove account to deploy in the worker's \
         own account"
    );
    assert_eq!(
        one(
            json!({"name": "p", "region": "us-east-1", "account": "333333333333", "roleArn": ROLE})
        ),
        "target 'p': roleArn is in account 222222222222, but account is 333333333333: the worker \
         assumes a role in the target's own account; make the two agree"
    );
    assert_eq!(
        one(
            json!({"name": "p", "region": "us-east-1", "roleArn": "arn:aws:iam::222222222222:user/bob"})
        ),
        "target 'p': roleArn 'arn:aws:iam::222222222222:user/bob' is not an IAM role ARN (its \
         resource does not start with 'role/'); write arn:<partition>:iam::<12-digit account>:role/<name>"
    );
}

#[test]
fn roles_stay_in_the_targets_partition_and_account() {
    assert_eq!(
        one(json!({"name": "p", "region": "cn-north-1", "roleArn": ROLE})),
        "target 'p': roleArn is in partition aws, but region cn-north-1 is in partition aws-cn: \
         roles and credentials never cross partitions; use a role of aws-cn"
    );
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "roleArn": ROLE,
                   "cloudFormationRoleArn": "arn:aws:iam::333333333333:role/cfn"})),
        "target 'p': cloudFormationRoleArn is in account 333333333333, but the target deploys in \
         account 222222222222: CloudFormation takes a service role only from the stack's own \
         account (iam:PassRole); use a role in 222222222222"
    );
}

#[test]
fn unknown_keys_are_refused_with_the_likely_one() {
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "rolearn": ROLE})),
        "target 'p' has an unknown key 'rolearn' (did you mean 'roleArn'?): a target takes name, \
         account, region, roleArn, cloudFormationRoleArn, parameters, stagingBucket"
    );
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "stage": "x"})),
        "target 'p' has an unknown key 'stage': a target takes name, account, region, roleArn, \
         cloudFormationRoleArn, parameters, stagingBucket"
    );
}

#[test]
fn parameters_are_an_object_of_values_cloudformation_takes() {
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "parameters": ["Stage"]})),
        "target 'p': parameters must be an object like {\"Stage\": \"prod\"}; it is an array"
    );
    assert_eq!(
        one(json!({"name": "p", "region": "us-east-1", "parameters": {"A": "x", "B": null}})),
        "target 'p': parameter 'B' must be a string, number, boolean or list; it is null"
    );
    // An object is another stack's output, read in the target's account
    // and region (`references`): only that shape.
    assert!(
        one(json!({"name": "p", "region": "us-east-1", "parameters": {"A": "x", "B": {"c": 1}}}))
            .starts_with("target 'p': parameter B: unknown key 'c' in a stack output reference")
    );
    let reference = json!({"fromStack": "todolayer-dev", "output": "LayerArn"});
    assert!(
        problems(json!({"name": "p", "region": "us-east-1", "parameters": {"B": reference}}))
            .is_empty()
    );
}

#[test]
fn every_problem_of_a_target_is_reported_at_once() {
    let all = problems(json!({"name": "p", "region": "mars-1", "account": "1", "typo": 1}));
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(
        one(json!("prod")),
        "targets[3] must be an object like {\"name\": \"prod-use1\", \"region\": \"us-east-1\"}; it is a string"
    );
}
