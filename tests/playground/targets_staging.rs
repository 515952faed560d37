//! A template over CloudFormation's 51,200 inline bytes for a rollout
//! target in another account and region (issue 17): staged in the
//! target's own `stagingBucket` with the target's credentials, since
//! CloudFormation reads a TemplateURL with the caller's permissions.
//! MiniStack only, for the reasons `targets.rs` gives.

use crate::deploy_harness::*;
use crate::harness::*;
use crate::targets::{FAR, THERE, WHY, rollout};
use aws_sdk_s3::config::{Credentials, Region};
use cpsf_playground::Emulator;
use serde_json::json;

const BUCKET: &str = "cpsf-staging-222222222222-us-west-2";

impl Harness {
    /// S3 in account `FAR`, region `THERE`.
    fn far_s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.clients.sdk)
            .region(Region::new(THERE))
            .credentials_provider(Credentials::new(FAR, "test", None, None, "far"))
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_template_is_staged_in_the_targets_own_bucket() {
    if !needs(Emulator::Ministack, WHY) {
        return;
    }
    let (h, _worker) = deploy_setup().await;
    let mut app = rollout();
    app.template
        .push_str(&"# padding past CloudFormation's inline limit\n".repeat(1300));
    assert!(app.template.len() > cpsf_worker::cloudformation::template::MAX_BODY_BYTES);
    app.deploy["targets"] = json!([app.deploy["targets"][3].clone()]);
    app.deploy["waves"] = json!([["far-usw2"]]);

    // No bucket of its own: refused before its stack is touched, saying
    // what to give it.
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Failed");
    let message = error_message(&detail);
    assert!(message.contains("Cpsf.TemplateTooLarge"), "{message}");
    assert!(
        message.contains("Give the target a stagingBucket in its own account and region"),
        "{message}"
    );
    assert_eq!(h.app_stack_in(Some(FAR), THERE).await, None);

    let far = h.far_s3();
    far.create_bucket()
        .bucket(BUCKET)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    app.deploy["targets"][0]["stagingBucket"] = BUCKET.into();
    let (status, detail) = h.deploy("app", &app).await;
    assert_eq!(status, "Succeeded", "{}", error_message(&detail));
    assert_eq!(
        h.app_status_in(Some(FAR), THERE).await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    let staged = far
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("cpsf/templates/")
        .send()
        .await
        .unwrap();
    assert_eq!(staged.contents().len(), 1, "written with the target's role");
}
