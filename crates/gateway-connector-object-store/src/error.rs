//! Provider answers -> error kinds, with messages that name the bucket, object or permission.

use gateway_connector::{ConnectorError, ErrorKind};

/// The S3 error code inside an opendal error (its message carries the parsed S3 error).
fn s3_code_in(e: &opendal::Error) -> Option<String> {
    let text = e.to_string();
    let at = text.find("code: \"")? + 7;
    let rest = &text[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// `x-amz-bucket-region`, when a response carried it.
fn bucket_region(e: &opendal::Error) -> Option<String> {
    let text = e.to_string().to_ascii_lowercase();
    let at = text.find("x-amz-bucket-region")?;
    let rest = &text[at..];
    let start = rest.find(|c: char| c.is_ascii_alphanumeric() && c != 'x').map(|i| i + 19)?;
    let value: String = rest[start..]
        .chars()
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!value.is_empty()).then_some(value)
}

/// What an S3 failure (from opendal) means, for an operation on `bucket` (and `object`).
pub fn s3(e: &opendal::Error, bucket: &str, object: Option<&str>, action: &str) -> ConnectorError {
    let code = s3_code_in(e);
    let region = bucket_region(e);
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

/// A failure with no provider code to read: by opendal's kind.
pub fn generic(e: &opendal::Error, what: &str) -> ConnectorError {
    use opendal::ErrorKind as K;
    match e.kind() {
        K::NotFound => ConnectorError::new(ErrorKind::ResourceNotFound, format!("{what} does not exist")),
        K::PermissionDenied => ConnectorError::new(ErrorKind::Forbidden, format!("access to {what} is denied")),
        K::RateLimited => ConnectorError::new(ErrorKind::RateLimited, "the provider asks to slow down"),
        K::ConfigInvalid => {
            ConnectorError::new(ErrorKind::WrongSpecification, format!("the configuration for {what} is not valid"))
        }
        _ if e.to_string().contains("refused to call") || e.to_string().contains("private, loopback") => {
            ConnectorError::new(
                ErrorKind::WrongSpecification,
                "the endpoint is not allowed: it is not a public https host",
            )
        }
        _ if e.is_temporary() => {
            ConnectorError::new(ErrorKind::Unavailable, format!("the provider failed on {what}; try again"))
        }
        _ => ConnectorError::new(ErrorKind::Unavailable, format!("the provider could not be reached for {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(msg: &str) -> opendal::Error {
        opendal::Error::new(opendal::ErrorKind::PermissionDenied, msg.to_owned())
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
