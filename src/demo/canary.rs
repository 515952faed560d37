//! `cpsf demo --canary`: a Lambda alias's new version takes the traffic in
//! steps (issue 30). Three runs of the canary sample (app/canary.json):
//! release 1 created (a plain deploy: there is no old version), release 2
//! shifted 10% then 50% then all of it, each step baking 6 s while the
//! demo shows the alias as Lambda's GetAlias has it, and release 3 rolled
//! back when the demo sets the watched alarm to ALARM during its first
//! bake. MiniStack only: its CloudFormation makes Lambda versions and
//! weighted aliases (docs/emulators.md).

use super::pipeline::{action_summary, deploy_action, start_with};
use super::setup::PIPELINE;
use super::watch::{self, Display};
use cpsf_worker::aws::Clients;
use serde_json::json;
use std::time::{Duration, Instant};

const TEMPLATE: &str = include_str!("../../app/canary.json");
const STACK: &str = "cpsf-demo-canary";
const ALARM: &str = "cpsf-demo-api-errors";

/// One run: the release deployed, whether the demo fires the alarm, and
/// how it must end.
struct Run {
    release: u32,
    fire_alarm: bool,
    status: &'static str,
    /// The version the alias serves afterwards.
    serves: &'static str,
}

const RUNS: [Run; 3] = [
    Run {
        release: 1,
        fire_alarm: false,
        status: "Succeeded",
        serves: "1",
    },
    Run {
        release: 2,
        fire_alarm: false,
        status: "Succeeded",
        serves: "2",
    },
    Run {
        release: 3,
        fire_alarm: true,
        status: "Failed",
        serves: "2",
    },
];

/// Runs the three releases; true when each ended as it should.
pub async fn run(clients: &Clients) -> anyhow::Result<bool> {
    let region = clients
        .sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&clients.sdk);
    let lambda = aws_sdk_lambda::Client::new(&clients.sdk);
    alarm(&cloudwatch, false).await?;
    println!(
        "Canary: alias 'live' of {STACK}; steps 10% then 50%, 6 s bake each, watching alarm \
         {ALARM} ({region})"
    );
    let mut all_ok = true;
    for run in &RUNS {
        let canary = json!({"alias": "Live", "steps": [10, 50], "bakeMinutes": 0.1,
                            "alarms": [ALARM]});
        let input = json!({"stackName": STACK, "templatePath": "template.yaml",
                           "capabilities": ["CAPABILITY_IAM"],
                           "canary": canary});
        let template = TEMPLATE.replace("{release}", &run.release.to_string());
        let started = Instant::now();
        let id = start_with(clients, &input, &template).await?;
        let label = format!("release {}", run.release);
        let mut display = Display::new();
        let mut fired = false;
        let snapshot = loop {
            let snapshot = watch::snapshot(clients, PIPELINE, &id, STACK).await;
            let live = alias(clients, &lambda).await;
            if run.fire_alarm && !fired && live.as_ref().is_some_and(|(_, w)| !w.is_empty()) {
                // The first step is in place: the alarm fires during its bake.
                alarm(&cloudwatch, true).await?;
                fired = true;
            }
            let shown = live.map_or_else(|| snapshot.line(), |(v, w)| describe(&v, &w));
            display.update(&label, format!("{} · {shown}", snapshot.status));
            if snapshot.is_done() {
                break snapshot;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        if fired {
            alarm(&cloudwatch, false).await?;
        }
        let serves = alias(clients, &lambda)
            .await
            .map(|(v, _)| v)
            .unwrap_or_default();
        let ok = snapshot.status == run.status && serves == run.serves;
        all_ok &= ok;
        display.finish(format!(
            "{label} — {} in {:.1}s, alias live on version {serves} ({})",
            snapshot.status,
            started.elapsed().as_secs_f64(),
            if ok {
                "as it should"
            } else {
                "NOT as it should"
            }
        ));
        let detail = deploy_action(clients, PIPELINE, &id).await;
        println!("    {}", action_summary(detail.as_ref()));
    }
    Ok(all_ok)
}

/// "alias live: version 1, 10% to version 2"
fn describe(version: &str, weights: &[(String, f64)]) -> String {
    let routed: Vec<String> = weights
        .iter()
        .map(|(v, w)| format!(", {}% to version {v}", (w * 100.0).round()))
        .collect();
    format!("alias live: version {version}{}", routed.concat())
}

/// The alias `live` as Lambda has it, once the stack made it.
async fn alias(
    clients: &Clients,
    lambda: &aws_sdk_lambda::Client,
) -> Option<(String, Vec<(String, f64)>)> {
    let function = clients
        .cloudformation()
        .describe_stack_resource()
        .stack_name(STACK)
        .logical_resource_id("Fn")
        .send()
        .await
        .ok()?
        .stack_resource_detail()?
        .physical_resource_id()?
        .to_string();
    let alias = lambda
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .ok()?;
    let weights = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    Some((alias.function_version()?.to_string(), weights))
}

/// The demo's alarm, in ALARM or OK.
async fn alarm(cloudwatch: &aws_sdk_cloudwatch::Client, firing: bool) -> anyhow::Result<()> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    cloudwatch
        .put_metric_alarm()
        .alarm_name(ALARM)
        .namespace("cpsf/demo")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await?;
    let (state, reason) = if firing {
        (
            StateValue::Alarm,
            "the demo set it: 5 errors in the last minute",
        )
    } else {
        (StateValue::Ok, "the demo set it")
    };
    cloudwatch
        .set_alarm_state()
        .alarm_name(ALARM)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await?;
    Ok(())
}
