//! Upload URLs of LOCAL tables: `PUT /uploads/{token}`, the token signed (HS256 under a key
//! derived from the JWT secret, so it can never pass for a bearer token), expiring, and bound
//! to the organization and the table.

use gateway_domain::{ErrorName, OrganizationId, Problem, TableName, now_seconds};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::JwtSecret;

/// How long an upload URL stays valid.
pub const UPLOAD_TTL_SECONDS: i64 = 24 * 3600;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// What the token is for; bearer tokens have no such claim.
    purpose: String,
    org: String,
    table: String,
    exp: i64,
}

fn key(secret: &JwtSecret) -> Vec<u8> {
    let mut k = secret.bytes().to_vec();
    k.extend_from_slice(b"|gateway-uploads-v1");
    k
}

/// A token for uploading the file of LOCAL table `name` of `org`.
pub fn issue(secret: &JwtSecret, org: &OrganizationId, name: &TableName, ttl: i64) -> Result<String, Problem> {
    let claims = Claims {
        purpose: "upload".into(),
        org: org.as_str().into(),
        table: name.as_str().into(),
        exp: now_seconds() + ttl,
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&key(secret)))
        .map_err(|_| Problem::new(ErrorName::InternalError, "cannot sign an upload token"))
}

/// The organization and table a valid token is bound to.
pub fn verify(secret: &JwtSecret, token: &str) -> Result<(OrganizationId, TableName), Problem> {
    let refused = |m: &str| Problem::new(ErrorName::Unauthorized, m.to_owned());
    let mut v = Validation::new(Algorithm::HS256);
    v.set_required_spec_claims(&["exp"]);
    v.leeway = 0;
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key(secret)), &v).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    refused("the upload URL has expired: PATCH the table again for a new one")
                }
                _ => refused("the upload URL is not valid"),
            }
        })?;
    let c = data.claims;
    if c.purpose != "upload" {
        return Err(refused("the upload URL is not valid"));
    }
    let org = OrganizationId::parse(&c.org).map_err(|_| refused("the upload URL is not valid"))?;
    let name = TableName::parse(&c.table).map_err(|_| refused("the upload URL is not valid"))?;
    Ok((org, name))
}

/// Whether a stored upload URL still serves this table (else a new one is made).
pub fn still_valid(secret: &JwtSecret, url: &str, org: &OrganizationId, name: &TableName) -> bool {
    let Some(token) = url.rsplit("/uploads/").next() else { return false };
    // Renew a day's margin early, so a URL handed out is good for a while.
    let fresh = |t: &str| {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        jsonwebtoken::decode::<Claims>(t, &DecodingKey::from_secret(&key(secret)), &v)
            .is_ok_and(|d| d.claims.exp > now_seconds() + UPLOAD_TTL_SECONDS / 2)
    };
    matches!(verify(secret, token), Ok((o, n)) if &o == org && &n == name) && fresh(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_signed_and_expire() {
        let s = JwtSecret::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let org = OrganizationId::parse("acme").unwrap();
        let name = TableName::parse("users.csv").unwrap();
        let t = issue(&s, &org, &name, 60).unwrap();
        assert_eq!(verify(&s, &t).unwrap(), (org.clone(), name.clone()));
        let other = JwtSecret::new(b"another-secret-another-secret-xx".to_vec());
        assert!(verify(&other, &t).is_err());
        let expired = issue(&s, &org, &name, -1).unwrap();
        assert!(verify(&s, &expired).unwrap_err().message.contains("expired"));
        // A bearer token of the same secret is not an upload token.
        let bearer = crate::issue_token(&s, "acme", "root", "x", 60).unwrap();
        assert!(verify(&s, &bearer).is_err());
        let url = format!("http://h/uploads/{}", issue(&s, &org, &name, UPLOAD_TTL_SECONDS).unwrap());
        assert!(still_valid(&s, &url, &org, &name));
        assert!(!still_valid(&s, &url, &org, &TableName::parse("other").unwrap()));
        assert!(!still_valid(&s, &format!("http://h/uploads/{t}"), &org, &name), "too close to its end");
    }
}
