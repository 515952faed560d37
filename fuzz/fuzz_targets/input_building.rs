//! The state machine input and execution name built from a job: the name is
//! always a valid Step Functions name, the input always a JSON object under
//! 256 KiB that carries the pipeline's context, and continuation tokens
//! never panic the decoder.
#![no_main]

use arbitrary::Arbitrary;
use cpsf_worker::job::data::Job;
use cpsf_worker::job::decide::Continuation;
use cpsf_worker::base::limits::MAX_INPUT_BYTES;
use cpsf_worker::job::input::{execution_name, parse_input_file, state_machine_input};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case {
    file: Vec<u8>,
    prefix: Option<String>,
    pipeline: String,
    action_execution_id: Option<String>,
    job_id: String,
    token: String,
}

fuzz_target!(|case: Case| {
    let mut job = Job::empty();
    job.id = case.job_id;
    job.context.pipeline_name = case.pipeline;
    job.context.action_execution_id = case.action_execution_id;

    let name = execution_name(case.prefix.as_deref(), &job);
    assert!(!name.is_empty() && name.len() <= 80, "{name:?}");
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{name:?}"
    );

    if let Ok(object) = parse_input_file("deploy.json", &case.file)
        && let Ok(input) = state_machine_input(object, &job)
    {
        assert!(input.len() <= MAX_INPUT_BYTES);
        let value: serde_json::Value = serde_json::from_str(&input).expect("input is JSON");
        assert!(value["pipeline"].is_object());
    }
    let _ = Continuation::decode(&case.token);
});
