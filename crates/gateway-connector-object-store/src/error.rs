//! Provider answers -> error kinds, with messages that name the bucket, object or permission.

use gateway_connector::{ConnectorError, ErrorKind};

/// The S3 error code inside an opendal error's text (its message carries the parsed S3
/// error, or a body the endpoint sent verbatim: whatever a tenant's endpoint answers).
fn s3_code_in(text: &str) -> Option<String> {
    const MARK: &str = "code: \"";
    let rest = text.get(text.find(MARK)? + MARK.len()..)?;
    let code = rest.get(..rest.find('"')?)?;
    // S3 codes are short words; anything else is not one.
    (!code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric())).then(|| code.to_owned())
}

/// `x-amz-bucket-region`, when the text carries it (as a header or quoted): the region that
/// follows it, a word of letters, digits and dashes.
fn bucket_region(text: &str) -> Option<String> {
    const MARK: &str = "x-amz-bucket-region";
    let lower = text.to_ascii_lowercase();
    let rest = lower.get(lower.find(MARK)? + MARK.len()..)?;
    let value: String = rest
        .chars()
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(32)
        .collect();
    (!value.is_empty()).then_some(value)
}

/// What an S3 failure (from opendal) means, for an operation on `bucket` (and `object`).
pub fn s3(e: &opendal::Error, bucket: &str, object: Option<&str>, action: &str) -> ConnectorError {
    let text = e.to_string();
    let code = s3_code_in(&text);
    let region = bucket_region(&text);
    let mapped = s3_code_of(code.as_deref(), region.as_deref(), bucket, object, action);
    mapped.unwrap_or_else(|| generic(e, &describe(bucket, object)))
}

fn describe(bucket: &str, object: Option<&str>) -> String {
    match object {
        Some(o) => format!("object '{o}' in bucket '{bucket}'"),
        None => format!("bucket '{bucket}'"),
    }
}

/// What an S3 error code means; `Unavailable` for a code it does not know.
pub fn s3_code(
    code: Option<&str>,
    region: Option<&str>,
    bucket: &str,
    object: Option<&str>,
    action: &str,
) -> ConnectorError {
    s3_code_of(code, region, bucket, object, action).unwrap_or_else(|| {
        ConnectorError::new(
            ErrorKind::Unavailable,
            format!("S3 failed on {} ({})", describe(bucket, object), code.unwrap_or("no code")),
        )
    })
}

fn s3_code_of(
    code: Option<&str>,
    region: Option<&str>,
    bucket: &str,
    object: Option<&str>,
    action: &str,
) -> Option<ConnectorError> {
    let what = describe(bucket, object);
    Some(match code? {
        "InvalidAccessKeyId" | "InvalidClientTokenId" => ConnectorError::new(
            ErrorKind::WrongCredentials,
            "the access key id does not exist: check aws_access_key_id",
        ),
        "SignatureDoesNotMatch" => ConnectorError::new(
            ErrorKind::WrongCredentials,
            "the secret does not match the access key id: check aws_secret_access_key",
        ),
        "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => {
            ConnectorError::new(ErrorKind::WrongCredentials, "the credentials have expired")
        }
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => ConnectorError::new(
            ErrorKind::Forbidden,
            format!("access denied: the credentials lack the {action} permission on {what}"),
        ),
        "NoSuchBucket" => ConnectorError::new(ErrorKind::ResourceNotFound, format!("bucket '{bucket}' does not exist")),
        "NoSuchKey" => ConnectorError::new(ErrorKind::ResourceNotFound, format!("{what} does not exist")),
        "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException" => {
            let message = match region {
                Some(r) => format!("bucket '{bucket}' is in region {r}: set the connection's region to {r}"),
                None => format!("bucket '{bucket}' is in another region: set the connection's region to the bucket's"),
            };
            ConnectorError::new(ErrorKind::WrongSpecification, message)
        }
        "SlowDown" | "RequestLimitExceeded" | "Throttling" => {
            ConnectorError::new(ErrorKind::RateLimited, "S3 asks to slow down: try again shortly")
        }
        _ => return None,
    })
}

/// The error and its sources, as one text (opendal keeps the transport's cause in its source).
fn chain(e: &opendal::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The host named before `marker` in an error text (`s3.example.com does not resolve`).
fn host_before(text: &str, marker: &str) -> Option<String> {
    let at = text.find(marker)?;
    text.get(..at)?.split_whitespace().last().map(|h| h.trim_matches(|c: char| c == ':' || c == ',').to_owned())
}

/// A failure with no provider code to read: by the guard's verdict, opendal's kind and the
/// transport's cause, found by type in the chain of causes. The opendal error is kept as the
/// cause (its text names the operation, never a credential).
pub fn generic(e: &opendal::Error, what: &str) -> ConnectorError {
    generic_kind(e, what).with_source(clone_for_log(e)).temporary(e.is_temporary())
}

/// opendal's errors are not `Clone`: the cause kept for the log is its text.
fn clone_for_log(e: &opendal::Error) -> std::io::Error {
    std::io::Error::other(chain(e))
}

fn generic_kind(e: &opendal::Error, what: &str) -> ConnectorError {
    use gateway_connector::outbound::{GuardError, guard_error};
    use opendal::ErrorKind as K;
    match guard_error(e) {
        Some(GuardError::Refused(why)) => {
            return ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("refused to reach {what}: {why}; the endpoint must be a public https host"),
            );
        }
        Some(GuardError::Unresolvable(why)) => {
            return ConnectorError::new(
                ErrorKind::Unavailable,
                format!("{why}: check the region or endpoint (or the gateway's network)"),
            );
        }
        None => {}
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return ConnectorError::new(
                    ErrorKind::Timeout,
                    format!("the provider did not answer in time for {what}"),
                );
            }
            if r.is_connect() {
                return ConnectorError::new(
                    ErrorKind::Unavailable,
                    format!("the provider could not be reached for {what}"),
                );
            }
        }
        source = s.source();
    }
    let text = chain(e);
    match e.kind() {
        K::NotFound => return ConnectorError::new(ErrorKind::ResourceNotFound, format!("{what} does not exist")),
        K::PermissionDenied => return ConnectorError::new(ErrorKind::Forbidden, format!("access to {what} is denied")),
        K::RateLimited => return ConnectorError::new(ErrorKind::RateLimited, "the provider asks to slow down"),
        K::ConfigInvalid => {
            return ConnectorError::new(
                ErrorKind::WrongSpecification,
                format!("the configuration for {what} is not valid"),
            );
        }
        _ => {}
    }
    if text.contains("private, loopback or link-local") || text.contains("refused to call") {
        return ConnectorError::new(
            ErrorKind::WrongSpecification,
            "the endpoint is not allowed: it is not a public https host",
        );
    }
    if let Some(host) = host_before(&text, " does not resolve") {
        return ConnectorError::new(
            ErrorKind::Unavailable,
            format!("{host} does not resolve: check the region or endpoint (or the gateway's network)"),
        );
    }
    if text.contains("timed out") || text.contains("deadline") {
        return ConnectorError::new(ErrorKind::Timeout, format!("the provider did not answer in time for {what}"));
    }
    if text.contains("Connect") || text.contains("connection refused") {
        return ConnectorError::new(ErrorKind::Unavailable, format!("the provider could not be reached for {what}"));
    }
    ConnectorError::new(ErrorKind::Unavailable, format!("the provider failed on {what}; try again"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(msg: &str) -> opendal::Error {
        opendal::Error::new(opendal::ErrorKind::PermissionDenied, msg.to_owned())
    }

    /// What a tenant's S3-compatible endpoint may answer, verbatim in opendal's error text:
    /// the review's panicking body (`x-amz-bucket-region` alone, a multi-byte character at
    /// byte 21) and the like are read without a panic.
    #[test]
    fn any_endpoint_text_is_read_without_a_panic() {
        for body in [
            "x-amz-bucket-region",
            "x-amz-bucket-region\u{e9}\u{e9}",
            "XX-AMZ-BUCKET-REGION: eu-west-1",
            "code: \"",
            "code: \"\u{e9}",
            "S3Error { code: \"PermanentRedirect\" } x-amz-bucket-region: \"eu-west-3\"",
            " does not resolve",
        ] {
            let _ = s3(&err(body), "b", None, "s3:PutObject");
            let _ = generic(&err(body), "the bucket");
        }
        let moved =
            s3(&err("S3Error { code: \"PermanentRedirect\" } x-amz-bucket-region: \"eu-west-3\""), "b", None, "x");
        assert!(moved.message.contains("eu-west-3"), "{}", moved.message);
        assert_eq!(bucket_region("x-amz-bucket-region"), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_error_text_is_classified(text in "\\PC{0,200}") {
            let _ = s3(&err(&text), "b", Some("o"), "s3:GetObject");
            let _ = generic(&err(&text), "the object");
        }
    }

    #[test]
    fn causes_from_the_transport() {
        assert_eq!(
            host_before("dns error: s3.us-east-1.amazonaws.com does not resolve: failed", " does not resolve")
                .as_deref(),
            Some("s3.us-east-1.amazonaws.com")
        );
        let e = opendal::Error::new(opendal::ErrorKind::Unexpected, "x.example.com does not resolve: nope");
        let c = generic(&e, "object 'a'");
        assert_eq!(c.kind, ErrorKind::Unavailable);
        assert!(c.message.starts_with("x.example.com does not resolve"), "{}", c.message);
    }

    #[test]
    fn s3_codes_from_the_documented_error_bodies() {
        let cases = [
            ("InvalidAccessKeyId", ErrorKind::WrongCredentials),
            ("SignatureDoesNotMatch", ErrorKind::WrongCredentials),
            ("AccessDenied", ErrorKind::Forbidden),
            ("NoSuchBucket", ErrorKind::ResourceNotFound),
            ("NoSuchKey", ErrorKind::ResourceNotFound),
            ("PermanentRedirect", ErrorKind::WrongSpecification),
            ("SlowDown", ErrorKind::RateLimited),
        ];
        for (code, kind) in cases {
            let e = err(&format!("S3Error {{ code: \"{code}\", message: \"m\", resource: \"\", request_id: \"r\" }}"));
            assert_eq!(s3(&e, "b", None, "s3:ListBucket").kind, kind, "{code}");
        }
        // A 301 PermanentRedirect carries the bucket's region in x-amz-bucket-region.
        let moved = s3_code(Some("PermanentRedirect"), Some("eu-west-1"), "reports", None, "s3:ListBucket");
        assert_eq!(moved.kind, ErrorKind::WrongSpecification);
        assert!(moved.message.contains("'reports'") && moved.message.contains("eu-west-1"), "{}", moved.message);
        let denied = s3(&err("S3Error { code: \"AccessDenied\" }"), "b", None, "s3:ListBucket");
        assert!(denied.message.contains("s3:ListBucket") && denied.message.contains("'b'"), "{}", denied.message);
    }
}
