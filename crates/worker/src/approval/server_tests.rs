//! The routes' answers that need no AWS call: a link that is not ours is
//! refused before the store is asked.

use super::*;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;

fn page(base_url: Option<&str>) -> Router {
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let approvals = Approvals::new(
        &sdk,
        "s3://approvals",
        &"k".repeat(32),
        base_url.map(String::from),
    )
    .unwrap();
    router(Arc::new(approvals))
}

async fn call(router: Router, request: Request<Body>) -> Response {
    let mut router = router;
    tower_service::Service::call(&mut router, request)
        .await
        .unwrap()
}

fn post(form: String) -> Request<Body> {
    Request::post("/approvals/not-a-link")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

/// The form as a browser posts it: every byte of a non-ASCII character
/// percent-encoded.
fn form(name: &str, comment: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("pageToken", &"t".repeat(43))
        .append_pair("name", name)
        .append_pair("comment", comment)
        .append_pair("decision", "approve")
        .finish()
}

/// The longest name and comment the page takes, in four-byte characters,
/// are read (the link is then refused: 404); a body past the limit is
/// refused unread (413), so a client cannot make the page hold megabytes.
#[tokio::test]
async fn the_longest_form_is_read_and_a_bigger_body_is_refused() {
    let longest = form(
        &"😀".repeat(MAX_NAME_CHARS),
        &"😀".repeat(MAX_COMMENT_CHARS),
    );
    assert!(longest.len() > 13_000, "{}", longest.len());
    let answer = call(page(None), post(longest)).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);

    let padded = form("Ann", &"x".repeat(32 * 1024));
    let answer = call(page(None), post(padded)).await;
    assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// HSTS (RFC 6797) when the links are https, and only then: a browser
/// ignores the header over http (section 8.1), and on a loopback page it
/// would only mislead.
#[tokio::test]
async fn strict_transport_security_only_when_links_are_https() {
    for (base_url, expected) in [
        (
            Some("https://approvals.example.com"),
            Some("max-age=31536000"),
        ),
        (Some("http://127.0.0.1:8080"), None),
        (None, None),
    ] {
        let request = Request::get("/approvals/not-a-link")
            .body(Body::empty())
            .unwrap();
        let answer = call(page(base_url), request).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        let hsts = answer
            .headers()
            .get(header::STRICT_TRANSPORT_SECURITY)
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(hsts.as_deref(), expected, "{base_url:?}");
        // The other headers, on every answer.
        assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-store");
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert!(!body.is_empty());
    }
}
