//! Job data as PollForJobs (or a saved event) gives it: parsing never
//! panics, the configuration check never panics, and a parsed job's Debug
//! output never shows its artifact secret key.
#![no_main]

use cpsf_worker::job::config::ActionConfig;
use cpsf_worker::job::data::Job;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(job) = Job::from_json(&value) else {
        return;
    };
    let _ = ActionConfig::parse(&job.configuration.0);
    if let Some(credentials) = &job.credentials {
        let secret = &credentials.secret_access_key;
        // Only a secret that cannot also be some other field's text.
        let once = data.windows(secret.len().max(1)).filter(|w| *w == secret.as_bytes()).count() == 1;
        if secret.len() >= 16 && once {
            assert!(!format!("{job:?}").contains(secret.as_str()), "Debug shows the secret key");
        }
    }
});
