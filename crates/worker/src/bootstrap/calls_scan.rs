//! The AWS API calls a part of src/ makes, read from its text, for the
//! static template tests: each call must be granted (`template_tests.rs`).
//!
//! A call is `<client>.<operation>()`, where `<client>` is a name the code
//! declares with an AWS SDK client type (`cfn: aws_sdk_cloudformation::Client`,
//! `client: Client` after `use aws_sdk_sfn::Client`): every fluent
//! operation of the SDK starts that way, whether it is sent at once or
//! built first. A name declared in the file itself wins (`client` is S3 in
//! one file, CodePipeline in another); else a struct field declared in
//! another file (`ctx.cfn`), if that name means one service only.

use regex_lite::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The IAM service prefix of each SDK crate the code uses.
const SERVICES: &[(&str, &str)] = &[
    ("cloudformation", "cloudformation"),
    ("sfn", "states"),
    ("s3", "s3"),
    ("sqs", "sqs"),
    ("sns", "sns"),
    ("codepipeline", "codepipeline"),
    ("cloudwatch", "cloudwatch"),
    ("eventbridge", "events"),
    ("lambda", "lambda"),
];

/// Methods of a client that are not API operations.
const NOT_OPERATIONS: &[&str] = &["clone", "config"];

/// One call: the IAM service, the SDK method (`list_change_sets`) and
/// the file (relative to src/) that makes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    pub service: String,
    pub method: String,
    pub file: String,
}

/// The files of `parts` of src/ (files or whole folders), with their text.
/// A part may climb out of this crate (`../../../src/cli/worker.rs`, the
/// `cpsf` crate's flags); its files are then named by that path.
pub fn files(parts: &[&str]) -> Vec<(String, String)> {
    fn walk(path: &Path, found: &mut Vec<PathBuf>) {
        if path.is_dir() {
            for entry in std::fs::read_dir(path).unwrap() {
                walk(&entry.unwrap().path(), found);
            }
        } else {
            found.push(path.to_path_buf());
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    for part in parts {
        walk(&root.join(part), &mut paths);
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = match p.strip_prefix(&root) {
                Ok(relative) => relative.display().to_string(),
                Err(_) => p.display().to_string(),
            };
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Every API call `files` make.
pub fn calls(files: &[(String, String)]) -> BTreeSet<Call> {
    let declared: Vec<BTreeMap<String, BTreeSet<&str>>> =
        files.iter().map(|(_, text)| declarations(text)).collect();
    let mut everywhere: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for names in &declared {
        for (name, services) in names {
            everywhere
                .entry(name.clone())
                .or_default()
                .extend(services.iter().copied());
        }
    }
    let call = Regex::new(r"(\.\s*)?\b([a-z_][a-z0-9_]*)\s*\.\s*([a-z][a-z0-9_]*)\(\)").unwrap();
    let mut found = BTreeSet::new();
    for ((file, text), own) in files.iter().zip(&declared) {
        for captures in call.captures_iter(text) {
            let field = captures.get(1).is_some();
            let (name, method) = (&captures[2], &captures[3]);
            if NOT_OPERATIONS.contains(&method) {
                continue;
            }
            // A client the file declares under the name decides; else a
            // variable (`cfn.…`) is whatever the file bound it to, and a
            // field (`ctx.cfn.…`) the client declared elsewhere.
            let services = match own.get(name) {
                Some(services) if !services.is_empty() => Some(services),
                Some(_) if !field => None,
                _ => everywhere.get(name),
            };
            if let Some(services) = services.filter(|s| s.len() == 1) {
                found.insert(Call {
                    service: services.first().unwrap().to_string(),
                    method: method.to_string(),
                    file: file.clone(),
                });
            }
        }
    }
    found
}

/// The names `text` declares, each with the services of its client type:
/// none for a name it binds to anything else (a `let`, or a type that is
/// not a client), which then hides a client of that name declared
/// elsewhere.
fn declarations(text: &str) -> BTreeMap<String, BTreeSet<&'static str>> {
    let used = Regex::new(r"use aws_sdk_([a-z0-9]+)::Client;").unwrap();
    let bare: BTreeSet<&str> = used
        .captures_iter(text)
        .filter_map(|c| service_of(&c[1]))
        .collect();
    let mut names: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    // `name: Type` (a field or parameter), `let name = ...`.
    let typed =
        Regex::new(r"\b([a-z_][a-z0-9_]*)\s*:\s*&?\s*((?:[a-z0-9_]+::)*[A-Z][A-Za-z0-9_]*)")
            .unwrap();
    let bound =
        Regex::new(r"\blet\s+(?:mut\s+)?([a-z_][a-z0-9_]*)\s*(?::[^=;]*)?=\s*([^;]*)").unwrap();
    let client = Regex::new(r"^(?:&\s*)?(?:aws_sdk_([a-z0-9]+)::)?Client\b").unwrap();
    let made =
        Regex::new(r"^(?:aws_sdk_([a-z0-9]+)::Client::|mock_client!\(\s*aws_sdk_([a-z0-9]+))")
            .unwrap();
    for captures in typed.captures_iter(text) {
        let services: BTreeSet<&str> = match client.captures(&captures[2]) {
            Some(c) => match c.get(1) {
                Some(krate) => service_of(krate.as_str()).into_iter().collect(),
                None => bare.clone(),
            },
            None => BTreeSet::new(),
        };
        names
            .entry(captures[1].to_string())
            .or_default()
            .extend(services);
    }
    for captures in bound.captures_iter(text) {
        let services: BTreeSet<&str> = made
            .captures(captures[2].trim_start())
            .and_then(|c| c.get(1).or(c.get(2)))
            .and_then(|krate| service_of(krate.as_str()))
            .into_iter()
            .collect();
        names
            .entry(captures[1].to_string())
            .or_default()
            .extend(services);
    }
    names
}

fn service_of(krate: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(k, _)| *k == krate)
        .map(|(_, service)| *service)
}

#[test]
fn a_call_is_found_through_the_name_its_client_is_declared_under() {
    let files = vec![
        (
            "a.rs".to_string(),
            "use aws_sdk_sfn::Client;\nfn f(client: &Client, s3: aws_sdk_s3::Client) {\n  \
             client\n    .start_execution()\n    .send();\n  let put = s3.put_object().key(k);\n  \
             s3.clone();\n}"
                .to_string(),
        ),
        (
            "b.rs".to_string(),
            "struct C { pub cfn: aws_sdk_cloudformation::Client }".to_string(),
        ),
        (
            "c.rs".to_string(),
            "fn g(ctx: &C) { ctx.cfn.list_change_sets().stack_name(n).send(); other.get_object(); }\n\
             fn h(s3: Location) { let cfn = stack(); cfn.stack_id(); s3.bucket_name(); }"
                .to_string(),
        ),
    ];
    let found: Vec<(String, String, String)> = calls(&files)
        .into_iter()
        .map(|c| (c.service, c.method, c.file))
        .collect();
    let call = |s: &str, m: &str, f: &str| (s.to_string(), m.to_string(), f.to_string());
    assert_eq!(
        found,
        vec![
            call("cloudformation", "list_change_sets", "c.rs"),
            call("s3", "put_object", "a.rs"),
            call("states", "start_execution", "a.rs"),
        ]
    );
}
