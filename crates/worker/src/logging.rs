//! Logging: human or JSON lines on stderr, filtered by `RUST_LOG`.
//!
//! The AWS SDK's own debug and trace output includes access key ids, and
//! whole responses such as PollForJobs' (secret configuration values). cpsf
//! must never log those, so the SDK targets that print them are capped at
//! INFO whatever `RUST_LOG` asks for.

use tracing_subscriber::EnvFilter;

/// SDK targets whose DEBUG/TRACE output carries credentials or secrets.
const SECRET_BEARING_TARGETS: &[&str] =
    &["aws_smithy_runtime", "aws_sigv4", "aws_smithy_runtime_api"];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[value(alias = "text")]
    Human,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// `RUST_LOG` (default `info`) with the secret-bearing targets capped.
pub fn filter(rust_log: Option<&str>) -> EnvFilter {
    filter_with_default(rust_log, "info")
}

/// Like [`filter`], with another default level (the demo keeps quiet).
pub fn filter_with_default(rust_log: Option<&str>, default: &str) -> EnvFilter {
    let mut filter =
        EnvFilter::try_new(rust_log.unwrap_or(default)).unwrap_or_else(|_| EnvFilter::new(default));
    if !wants_credential_chain(rust_log) {
        filter = filter.add_directive("aws_config=error".parse().expect("static directive"));
    }
    for target in SECRET_BEARING_TARGETS {
        filter = filter.add_directive(format!("{target}=info").parse().expect("static directive"));
    }
    filter
}

/// aws_config warns once per credential or region provider that found
/// nothing, each with a Debug dump; [`crate::preflight`] sums that up in
/// one line, so the dumps are shown only when asked for: at `RUST_LOG`
/// debug or trace, or when it names `aws_config`.
fn wants_credential_chain(rust_log: Option<&str>) -> bool {
    rust_log.is_some_and(|asked| {
        ["debug", "trace", "aws_config"]
            .iter()
            .any(|word| asked.contains(word))
    })
}

pub fn init(format: LogFormat, default_level: &str) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter_with_default(rust_log.as_deref(), default_level))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bearing_targets_stay_at_info_even_under_trace() {
        for asked in ["trace", "debug", "aws_smithy_runtime=trace,info"] {
            let shown = filter(Some(asked)).to_string();
            for target in SECRET_BEARING_TARGETS {
                assert!(
                    shown.contains(&format!("{target}=info")),
                    "{asked}: {shown}"
                );
                assert!(
                    !shown.contains(&format!("{target}=trace")),
                    "{asked}: {shown}"
                );
            }
        }
    }
}
