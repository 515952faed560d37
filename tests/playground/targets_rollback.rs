//! `bake.rollback` on the playground (issue 17): the bake's alarms become
//! each target's rollback triggers, found where the target is through its
//! own role. MiniStack only, for the reasons `targets.rs` gives.
//!
//! Neither emulator acts on a RollbackConfiguration (both accept and
//! ignore it: docs/emulators.md), so what CloudFormation does with the
//! triggers is covered by the unit tests of the request
//! (`tasks/rollback.rs`) and of the paths' messages; this test covers what
//! cpsf does on its own: finding each target's alarms by ARN in its
//! account and region, refusing a target where one is missing before its
//! stack is touched, and a rollout whose bake is the monitoring period.

use crate::deploy_harness::*;
use crate::harness::*;
use crate::targets::{FAR, HERE, THERE, WHY, rollout};
use cpsf_playground::Emulator;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_rollback_every_target_needs_the_alarm_where_it_is() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    // The alarm everywhere but where the last wave goes.
    for (account, region) in [(None, HERE), (None, THERE), (Some(FAR), HERE)] {
        h.put_alarm(account, region, "app-errors").await;
    }
    let mut app = rollout();
    app.deploy["bake"] = json!({"seconds": 600, "alarms": ["app-errors"], "rollback": true});
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(
        message.contains("wave 3/3 stopped the rollout"),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "'app-errors' not in {THERE} (account {FAR}) (a rollback trigger that does not exist"
        )),
        "{message}"
    );
    assert_eq!(
        h.app_stack_in(Some(FAR), THERE).await,
        None,
        "nothing deployed where the triggers could not be set"
    );
    // A 600 s bake took no 600 s: each wave baked as its stacks'
    // monitoring period (which MiniStack does not wait out), and Bake only
    // read the alarms once after each wave.
    let rollout_arn = h.running_rollout().await;
    assert_eq!(h.states_named(&rollout_arn, "Bake").await, 2);

    h.put_alarm(Some(FAR), THERE, "app-errors").await;
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(
        h.app_status_in(Some(FAR), THERE).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
}
