//! Bearer JWT (HS256) authentication. Claims: `org` (scopes everything), `role` (root,
//! manager or backend), `sub`, `exp`.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, http::header, web};
use gateway_domain::{ErrorName, OrganizationId, Role};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    org: String,
    role: String,
    sub: String,
    exp: i64,
}

/// The HS256 secret. `Debug` never shows it.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        JwtSecret(bytes)
    }
}

impl JwtSecret {
    /// The key LOCAL upload URLs are signed with, derived so neither verifies the other's tokens.
    pub fn upload_key(&self) -> gateway_service::UploadKey {
        gateway_service::UploadKey::derive(&self.0)
    }
}

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(..)")
    }
}

/// Signs a token, as `gateway token` prints it. `role` is not checked here: a token with any
/// role can be made (for tests of the 403), and the gateway decides what it may do.
pub fn issue_token(secret: &JwtSecret, org: &str, role: &str, sub: &str, ttl_seconds: i64) -> Result<String, String> {
    let claims = Claims {
        org: org.to_owned(),
        role: role.to_owned(),
        sub: sub.to_owned(),
        exp: gateway_domain::now_seconds().saturating_add(ttl_seconds),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&secret.0))
        .map_err(|e| format!("cannot sign the token: {e}"))
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: OrganizationId,
    pub role: Role,
    pub sub: String,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorName::Unauthorized, message)
}

pub(crate) fn authenticate(secret: &JwtSecret, authorization: Option<&str>) -> Result<Caller, ApiError> {
    let value = authorization.ok_or_else(|| unauthorized("an 'Authorization: Bearer <token>' header is required"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be 'Bearer <token>'"))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp"]);
    validation.leeway = 0;
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&secret.0), &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => unauthorized("the token has expired"),
                K::InvalidSignature => unauthorized("the token's signature is not valid"),
                K::InvalidAlgorithm => unauthorized("the token must be signed with HS256"),
                K::Json(_) | K::MissingRequiredClaim(_) => {
                    unauthorized("the token must carry the claims org, role, sub and exp")
                }
                _ => unauthorized("the token is malformed"),
            }
        })?;
    let claims = data.claims;
    let org = OrganizationId::parse(&claims.org)
        .map_err(|_| unauthorized("the token's 'org' claim is not a valid organization"))?;
    let role = claims.role.parse::<Role>().map_err(|_| {
        ApiError::new(
            ErrorName::Forbidden,
            format!("the role '{}' may not call the gateway; allowed: root, manager, backend", claims.role),
        )
    })?;
    Ok(Caller { org, role, sub: claims.sub })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::new(ErrorName::InternalError, "the gateway is misconfigured")));
        };
        let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        ready(authenticate(&state.jwt_secret, header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_fail_clearly() {
        let s = JwtSecret::new(b"test-secret-test-secret-test-secret".to_vec());
        let t = issue_token(&s, "acme", "manager", "ann", 60).unwrap_or_default();
        let c = authenticate(&s, Some(&format!("Bearer {t}"))).map_err(|e| e.to_string());
        assert!(matches!(c, Ok(Caller { role: Role::Manager, .. })), "{c:?}");

        let expired = issue_token(&s, "acme", "root", "ann", -10).unwrap_or_default();
        let e = authenticate(&s, Some(&format!("Bearer {expired}"))).unwrap_err();
        assert_eq!((e.0.name, e.0.message.as_str()), (ErrorName::Unauthorized, "the token has expired"));

        let other = JwtSecret::new(b"another-secret-another-secret-xx".to_vec());
        let forged = issue_token(&other, "acme", "root", "ann", 60).unwrap_or_default();
        assert_eq!(authenticate(&s, Some(&format!("Bearer {forged}"))).unwrap_err().0.name, ErrorName::Unauthorized);

        let guest = issue_token(&s, "acme", "guest", "ann", 60).unwrap_or_default();
        assert_eq!(authenticate(&s, Some(&format!("Bearer {guest}"))).unwrap_err().0.name, ErrorName::Forbidden);

        assert_eq!(authenticate(&s, None).unwrap_err().0.name, ErrorName::Unauthorized);
        assert_eq!(authenticate(&s, Some("Basic abc")).unwrap_err().0.name, ErrorName::Unauthorized);
        assert_eq!(authenticate(&s, Some("Bearer not.a.jwt")).unwrap_err().0.name, ErrorName::Unauthorized);
    }
}
