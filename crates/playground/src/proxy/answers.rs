//! The answers the proxy gives itself instead of forwarding a call: an
//! injected fault (throttled, server error) or a refusal of the checks,
//! each in the error shape of the call's protocol, so the caller's SDK
//! reads it as AWS's own.

use super::Refusal;
use super::call::Protocol;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

impl Protocol {
    pub(super) fn throttled(self) -> Response<Full<Bytes>> {
        match self {
            Protocol::Json { .. } => json_error(StatusCode::BAD_REQUEST, "ThrottlingException"),
            Protocol::Query => query_error(StatusCode::BAD_REQUEST, "Throttling"),
            Protocol::RestXml => s3_error(StatusCode::SERVICE_UNAVAILABLE, "SlowDown"),
        }
    }

    pub(super) fn server_error(self) -> Response<Full<Bytes>> {
        let status = StatusCode::SERVICE_UNAVAILABLE;
        match self {
            Protocol::Json { .. } => json_error(status, "ServiceUnavailable"),
            Protocol::Query => query_error(status, "ServiceUnavailable"),
            Protocol::RestXml => s3_error(status, "ServiceUnavailable"),
        }
    }

    /// A request AWS would refuse, refused as AWS does: 400 in the
    /// protocol's error shape.
    pub(super) fn refused(self, refusal: &Refusal) -> Response<Full<Bytes>> {
        let status = StatusCode::BAD_REQUEST;
        let (code, message) = (refusal.code.as_str(), refusal.message.as_str());
        match self {
            Protocol::Json { .. } => {
                let version = refusal.json_version.as_deref().unwrap_or("1.1");
                json_answer(status, version, code, message)
            }
            Protocol::Query => query_answer(status, code, message),
            Protocol::RestXml => s3_answer(status, code, message),
        }
    }
}

const FAULT_MESSAGE: &str = "injected by the cpsf fault proxy";

fn json_error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    json_answer(status, "1.1", code, FAULT_MESSAGE)
}

fn query_error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    query_answer(status, code, FAULT_MESSAGE)
}

fn s3_error(status: StatusCode, code: &str) -> Response<Full<Bytes>> {
    s3_answer(status, code, FAULT_MESSAGE)
}

/// AWS JSON 1.0/1.1's error shape.
fn json_answer(
    status: StatusCode,
    version: &str,
    code: &str,
    message: &str,
) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"__type": code, "message": message}).to_string();
    let content_type = if version == "1.0" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    let mut response = respond(status, content_type, body);
    if let Ok(value) = HeaderValue::from_str(code) {
        response.headers_mut().insert("x-amzn-ErrorType", value);
    }
    response
}

/// AWS Query's error shape.
fn query_answer(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code>\
         <Message>{}</Message></Error><RequestId>cpsf-proxy</RequestId></ErrorResponse>",
        xml_escape(code),
        xml_escape(message)
    );
    respond(status, "text/xml", body)
}

/// S3's error shape.
fn s3_answer(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<Error><Code>{}</Code><Message>{}</Message><RequestId>cpsf-proxy</RequestId></Error>",
        xml_escape(code),
        xml_escape(message)
    );
    respond(status, "application/xml", body)
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
