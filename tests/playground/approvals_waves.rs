//! One decision per wave (issue 18 with issue 17's targets): each wave's
//! targets plan their change sets, one link shows them all, and the wave
//! applies them together or none. MiniStack only, for the reasons
//! `targets.rs` gives.

use crate::approval_harness::*;
use crate::deploy_harness::*;
use crate::harness::*;
use crate::targets::{FAR, HERE, THERE, WHY, rollout};
use cpsf_playground::Emulator;
use serde_json::json;

impl Approving {
    /// Decides the next approval on its page.
    async fn decide_next(&self, name: &str, decision: &str) -> (String, String) {
        let note = self.next_notification().await;
        let link = self.link_in(&note);
        let page = http(&link, None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(decide_on_page(&link, name, "", decision).await.status, 200);
        (note, page.body)
    }

    /// The logical ids of the app stack's resources there.
    async fn app_resources_in(&self, account: Option<&str>, region: &str) -> Vec<String> {
        let resources = self
            .h
            .cloudformation_in(account, region)
            .describe_stack_resources()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .unwrap();
        let mut ids: Vec<String> = resources
            .stack_resources()
            .iter()
            .filter_map(|r| r.logical_resource_id().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wave_asks_once_for_all_its_targets_and_a_rejected_wave_changes_nothing() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let a = approval_setup().await;
    let mut app = rollout();
    let (status, detail) = a.h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));

    app.template = app.template.replace("WorkQueue", "JobQueue");
    app.deploy["approval"] = json!({"when": "risky", "notify": a.topic, "timeoutMinutes": 10});
    let id = a.h.start_deploy("app", &app).await;
    let (note, _) = a.decide_next("Ann", "approve").await;
    assert!(
        note.contains("in wave 1/3: here-use1 (us-east-1)"),
        "{note}"
    );
    // Wave 2: both its targets in one request.
    let (note, page) = a.decide_next("Ann", "approve").await;
    assert!(
        note.contains("What changes: here-usw2: 1 added, 1 removed"),
        "{note}"
    );
    assert!(note.contains("; far-use1: 1 added, 1 removed"), "{note}");
    assert!(page.contains("<td>here-usw2 / WorkQueue</td>"), "{page}");
    assert!(page.contains("<td>far-use1 / WorkQueue</td>"), "{page}");
    // Wave 3: rejected.
    a.decide_next("Rita", "reject").await;
    assert_eq!(a.h.wait_until_done("app", &id).await, "Failed");
    let message = error_message(&a.h.deploy_detail("app").await);
    assert!(
        message.contains("rejected by Rita; the change set was deleted"),
        "{message}"
    );

    for (account, region) in [(None, HERE), (None, THERE), (Some(FAR), HERE)] {
        assert_eq!(
            a.app_resources_in(account, region).await,
            ["GreetingSetting", "JobQueue"],
            "{account:?} {region}: applied"
        );
    }
    assert_eq!(
        a.app_resources_in(Some(FAR), THERE).await,
        ["GreetingSetting", "WorkQueue"],
        "the rejected wave changed nothing"
    );
    let left =
        a.h.cloudformation_in(Some(FAR), THERE)
            .list_change_sets()
            .stack_name("cpsf-demo-app")
            .send()
            .await
            .unwrap();
    assert!(left.summaries().is_empty(), "{:?}", left.summaries());
}
