//! AWS Signature Version 4 for the one raw call opendal does not make: STS
//! GetCallerIdentity (the credential check when no bucket is given).

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::hmac;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes()).as_ref().to_vec()
}

/// `(YYYYMMDD'T'HHMMSS'Z', YYYYMMDD)` of a Unix time, in UTC.
pub fn amz_dates(unix: i64) -> (String, String) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = gateway_domain::civil::civil_from_days(days);
    let date = format!("{year:04}{month:02}{day:02}");
    (format!("{date}T{:02}{:02}{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60), date)
}

/// AWS's URI encoding: every byte but `A-Z a-z 0-9 - _ . ~` as %XX (and `/` kept in paths).
pub fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request to sign.
pub struct Request<'a> {
    pub method: &'a str,
    pub host: &'a str,
    /// The path, already URI-encoded (as sent).
    pub path: &'a str,
    /// Query parameters, unencoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Extra signed headers, lower-case names (`content-type`).
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
}

/// The signature's outputs: the query string to send, and the headers to add.
pub struct Signed {
    pub query: String,
    pub headers: Vec<(String, String)>,
}

/// Signs with AWS Signature Version 4 (S3 also gets `x-amz-content-sha256`).
pub fn sign(r: &Request<'_>, key_id: &str, secret: &str, unix: i64) -> Signed {
    let (amz_date, date) = amz_dates(unix);
    let payload_hash = hex(digest(&SHA256, r.payload).as_ref());
    let mut query: Vec<(String, String)> = r.query.iter().map(|(k, v)| (encode(k, false), encode(v, false))).collect();
    query.sort();
    let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut headers: Vec<(String, String)> =
        r.headers.iter().map(|(k, v)| ((*k).to_owned(), v.trim().to_owned())).collect();
    headers.push(("host".into(), r.host.to_owned()));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if r.service == "s3" {
        headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
    }
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical = format!("{}\n{}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}", r.method, r.path);
    let scope = format!("{date}/{}/{}/aws4_request", r.region, r.service);
    let to_sign =
        format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(digest(&SHA256, canonical.as_bytes()).as_ref()));
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), &date);
    let k_signing = hmac(&hmac(&hmac(&k_date, r.region), r.service), "aws4_request");
    let signature = hex(&hmac(&k_signing, &to_sign));
    let mut out: Vec<(String, String)> = headers.into_iter().filter(|(k, _)| k != "host").collect();
    out.push((
        "authorization".into(),
        format!("AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"),
    ));
    Signed { query, headers: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example: GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08,
    /// 20150830T123600Z, us-east-1, iam, with its content-type header.
    #[test]
    fn the_documented_example_signature() {
        let req = Request {
            method: "GET",
            host: "iam.amazonaws.com",
            path: "/",
            query: &[("Action", "ListUsers"), ("Version", "2010-05-08")],
            headers: &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            payload: b"",
            region: "us-east-1",
            service: "iam",
        };
        let signed = sign(&req, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1_440_938_160);
        let auth =
            signed.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
        assert_eq!(encode("a b/c~", false), "a%20b%2Fc~");
        assert_eq!(encode("a b/c", true), "a%20b/c");
    }

    #[test]
    fn dates() {
        assert_eq!(amz_dates(0), ("19700101T000000Z".into(), "19700101".into()));
        assert_eq!(amz_dates(1_440_938_160), ("20150830T123600Z".into(), "20150830".into()));
        assert_eq!(amz_dates(951_782_400), ("20000229T000000Z".into(), "20000229".into()));
    }

    /// The signing key derivation of AWS's documentation example (secret
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 20150830, us-east-1, iam).
    #[test]
    fn signing_key_matches_the_documented_example() {
        let k_date = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830");
        let k = hmac(&hmac(&hmac(&k_date, "us-east-1"), "iam"), "aws4_request");
        assert_eq!(hex(&k), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    }
}
