//! What the proxy knows of one call: the service that signed it, its
//! operation (`states:StartExecution`) and its wire protocol, read from the
//! request alone. The proxy counts calls, picks faults and routes by it,
//! and the checks read the call through it.

use super::checks;

/// One call, as far as the proxy needs to know it.
pub(super) struct Call {
    /// The signing name (`states`), if the call is signed.
    service: Option<String>,
    pub(super) operation: String,
    pub(super) protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// AWS JSON 1.0/1.1: CodePipeline, Step Functions.
    Json { codepipeline: bool },
    /// AWS Query: CloudFormation, IAM, STS.
    Query,
    /// REST-XML: S3.
    RestXml,
}

impl Call {
    /// The service comes from the signature's credential scope, which every
    /// SDK request carries; the operation from the JSON target, the Query
    /// `Action`, or (S3's REST calls) the HTTP method.
    pub(super) fn classify(
        method: &hyper::Method,
        headers: &hyper::HeaderMap,
        body: &[u8],
    ) -> Self {
        let signed = signing_service(headers).map(str::to_string);
        let service = signed.as_deref().unwrap_or("unsigned");
        if let Some(target) = headers.get("x-amz-target").and_then(|t| t.to_str().ok()) {
            let operation = target.rsplit('.').next().unwrap_or(target);
            return Self {
                protocol: Protocol::Json {
                    codepipeline: service == "codepipeline"
                        || target.starts_with(CODEPIPELINE_TARGET),
                },
                operation: format!("{service}:{operation}"),
                service: signed,
            };
        }
        if service != "s3"
            && let Some(action) = query_action(body)
        {
            return Self {
                operation: format!("{service}:{action}"),
                protocol: Protocol::Query,
                service: signed,
            };
        }
        Self {
            operation: format!("{service}:{method}"),
            protocol: Protocol::RestXml,
            service: signed,
        }
    }

    /// The call as the checks read it.
    pub(super) fn request<'a>(
        &'a self,
        parts: &'a hyper::http::request::Parts,
        body: &'a [u8],
    ) -> checks::Request<'a> {
        checks::Request {
            service: self.service.as_deref(),
            operation: &self.operation,
            action: self
                .operation
                .split_once(':')
                .map_or(&self.operation, |(_, action)| action),
            wire: match self.protocol {
                Protocol::Json { .. } => checks::Wire::Json,
                Protocol::Query => checks::Wire::Query,
                Protocol::RestXml => checks::Wire::RestXml,
            },
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body,
        }
    }
}

/// The `X-Amz-Target` prefix of CodePipeline's operations.
const CODEPIPELINE_TARGET: &str = "CodePipeline_20150709.";

/// `Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, …`
fn signing_service(headers: &hyper::HeaderMap) -> Option<&str> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let scope = authorization.split("Credential=").nth(1)?;
    scope.split(['/', ',']).nth(3)
}

/// The `Action` parameter of an AWS Query body.
fn query_action(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .filter(|action| !action.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn signed(service: &str) -> hyper::HeaderMap {
        let mut headers = hyper::HeaderMap::new();
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261121/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=00"
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn calls_are_named_by_signing_service_and_operation() {
        let mut headers = signed("codepipeline");
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("CodePipeline_20150709.PollForJobs"),
        );
        let call = Call::classify(&hyper::Method::POST, &headers, b"{}");
        assert_eq!(call.operation, "codepipeline:PollForJobs");
        assert_eq!(call.protocol, Protocol::Json { codepipeline: true });

        let mut headers = signed("states");
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("AWSStepFunctions.StartExecution"),
        );
        let call = Call::classify(&hyper::Method::POST, &headers, b"{}");
        assert_eq!(call.operation, "states:StartExecution");
        assert_eq!(
            call.protocol,
            Protocol::Json {
                codepipeline: false
            }
        );

        let body = b"Action=CreateStack&Version=2010-05-15";
        let call = Call::classify(&hyper::Method::POST, &signed("cloudformation"), body);
        assert_eq!(call.operation, "cloudformation:CreateStack");
        assert_eq!(call.protocol, Protocol::Query);

        let call = Call::classify(&hyper::Method::PUT, &signed("s3"), b"");
        assert_eq!(call.operation, "s3:PUT");
        assert_eq!(call.protocol, Protocol::RestXml);
    }
}
