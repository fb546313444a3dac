//! Bearer JWT authentication. Claims: `org` (scopes everything), `role` (root, manager or
//! backend), `sub`, `exp`; `nbf`, and `iss`/`aud` when the operator sets them. HS256 with the
//! gateway's secret, or RS256/ES256 with the public keys of the operator's token issuers (a
//! PEM or JWKS file, configured: never fetched from anything a token carries).

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

/// How bearer tokens are verified: the HS256 secret and, optionally, token issuers' public
/// keys and the `iss`/`aud` every token must carry. `Debug` shows no key.
#[derive(Clone)]
pub struct JwtSecret(Vec<u8>, Issuers);

/// Token issuers' public keys, by algorithm, and the claims they must set.
#[derive(Clone, Default)]
struct Issuers {
    keys: Vec<(Algorithm, Option<String>, DecodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        JwtSecret(bytes, Issuers::default())
    }

    /// Accepts RS256 and ES256 tokens signed by the keys in `text`: PEM public keys (RSA or EC
    /// P-256; several blocks may follow one another) or a JWKS document.
    pub fn with_public_keys(mut self, text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_str(text).map_err(|e| format!("the JWKS document is not valid: {e}"))?;
            for jwk in &set.keys {
                let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("a JWKS key is not usable: {e}"))?;
                let alg = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => return Err("a JWKS key is neither RSA nor EC: only RS256 and ES256 are accepted".into()),
                };
                self.1.keys.push((alg, jwk.common.key_id.clone(), key));
            }
        } else {
            for block in text.split("-----BEGIN ").filter(|b| !b.trim().is_empty()) {
                let pem = format!("-----BEGIN {block}");
                let key = DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|k| (Algorithm::RS256, k))
                    .or_else(|_| DecodingKey::from_ec_pem(pem.as_bytes()).map(|k| (Algorithm::ES256, k)))
                    .map_err(|_| "a PEM block is neither an RSA nor an EC P-256 public key".to_owned())?;
                self.1.keys.push((key.0, None, key.1));
            }
        }
        if self.1.keys.is_empty() {
            return Err("no public key found".into());
        }
        Ok(self)
    }

    /// Every token must carry this `iss`.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        self.1.issuer = issuer;
        self
    }

    /// Every token must carry this `aud`.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        self.1.audience = audience;
        self
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

impl Caller {
    /// The caller as the audit trail records it.
    pub fn actor(&self) -> gateway_domain::Actor {
        gateway_domain::Actor::user(self.sub.clone(), self.role)
    }

    /// FORBIDDEN unless the caller is root or manager: the organization's administration
    /// (webhooks, the audit trail) is not for the platform's pipelines.
    pub fn administrator(&self) -> Result<(), ApiError> {
        if matches!(self.role, Role::Root | Role::Manager) {
            return Ok(());
        }
        Err(ApiError(
            gateway_domain::Problem::new(
                ErrorName::Forbidden,
                format!("the role {} may not do this: only root and manager may", self.role),
            )
            .with("role", self.role.as_str()),
        ))
    }
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
    // The header says which key: HS256 the secret, RS256/ES256 the configured issuers' keys
    // (by `kid` when the token names one). Nothing in the header fetches anything.
    let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized("the token is malformed"))?;
    let hs = DecodingKey::from_secret(&secret.0);
    let key = match header.alg {
        Algorithm::HS256 => &hs,
        Algorithm::RS256 | Algorithm::ES256 => secret
            .1
            .keys
            .iter()
            .find(|(alg, kid, _)| *alg == header.alg && (header.kid.is_none() || kid.is_none() || *kid == header.kid))
            .map(|(_, _, k)| k)
            .ok_or_else(|| unauthorized("no configured issuer key verifies this token's algorithm or key id"))?,
        _ => return Err(unauthorized("the token must be signed with HS256, RS256 or ES256")),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_required_spec_claims(&["exp"]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    if let Some(iss) = &secret.1.issuer {
        validation.set_issuer(&[iss]);
        validation.set_required_spec_claims(&["exp", "iss"]);
    }
    match &secret.1.audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::ExpiredSignature => unauthorized("the token has expired"),
            K::InvalidSignature => unauthorized("the token's signature is not valid"),
            K::InvalidAlgorithm => unauthorized("the token must be signed with HS256, RS256 or ES256"),
            K::ImmatureSignature => unauthorized("the token is not valid yet (nbf)"),
            K::InvalidIssuer => unauthorized("the token's issuer is not the configured one"),
            K::InvalidAudience => unauthorized("the token's audience is not the configured one"),
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

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
    }

    fn sign(alg: Algorithm, private_pem: &str, claims: serde_json::Value) -> String {
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap(),
            _ => EncodingKey::from_ec_pem(private_pem.as_bytes()).unwrap(),
        };
        jsonwebtoken::encode(&Header::new(alg), &claims, &key).unwrap()
    }

    /// Production issuers' RS256 and ES256 tokens, verified with configured public keys;
    /// `alg: none`, a foreign key, `nbf` in the future and a wrong `iss`/`aud` refused.
    #[test]
    fn issuers_public_keys_and_claims() {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let rsa = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let rsa_private = pem("PRIVATE KEY", rsa.as_der().unwrap().as_ref());
        let rsa_public = pem("RSA PUBLIC KEY", rsa.public_key().as_ref());
        let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let ec_private = pem("PRIVATE KEY", ec.to_pkcs8v1().unwrap().as_ref());
        let ec_spki: PublicKeyX509Der<'_> = ec.public_key().as_der().unwrap();
        let ec_public = pem("PUBLIC KEY", ec_spki.as_ref());
        let keys = format!("{rsa_public}{ec_public}");
        let secret = JwtSecret::new(b"test-secret-test-secret-test-secret".to_vec())
            .with_public_keys(&keys)
            .unwrap()
            .with_issuer(Some("https://login.example.com/".into()))
            .with_audience(Some("connections-gateway".into()));
        let now = gateway_domain::now_seconds();
        let claims = serde_json::json!({"org": "acme", "role": "manager", "sub": "svc", "exp": now + 60,
                                        "iss": "https://login.example.com/", "aud": "connections-gateway"});
        for (alg, private) in [(Algorithm::RS256, &rsa_private), (Algorithm::ES256, &ec_private)] {
            let t = sign(alg, private, claims.clone());
            let c = authenticate(&secret, Some(&format!("Bearer {t}"))).map_err(|e| e.to_string());
            assert!(matches!(c, Ok(Caller { role: Role::Manager, .. })), "{alg:?}: {c:?}");
        }
        let refused = |t: String| authenticate(&secret, Some(&format!("Bearer {t}"))).unwrap_err().0;
        let other = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let foreign = sign(Algorithm::RS256, &pem("PRIVATE KEY", other.as_der().unwrap().as_ref()), claims.clone());
        assert_eq!(refused(foreign).name, ErrorName::Unauthorized);
        let mut later = claims.clone();
        later["nbf"] = serde_json::json!(now + 3600);
        assert!(refused(sign(Algorithm::RS256, &rsa_private, later)).message.contains("not valid yet"));
        let mut wrong_iss = claims.clone();
        wrong_iss["iss"] = serde_json::json!("https://evil.example.com/");
        assert!(refused(sign(Algorithm::RS256, &rsa_private, wrong_iss)).message.contains("issuer"));
        let mut wrong_aud = claims.clone();
        wrong_aud["aud"] = serde_json::json!("another-service");
        assert!(refused(sign(Algorithm::ES256, &ec_private, wrong_aud)).message.contains("audience"));
        // alg: none, unsigned.
        use base64::Engine;
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), b64(&claims));
        assert_eq!(refused(none).name, ErrorName::Unauthorized);
        // Without configured keys, RS256 tokens are refused.
        let plain = JwtSecret::new(b"test-secret-test-secret-test-secret".to_vec());
        let t = sign(Algorithm::RS256, &rsa_private, claims);
        assert!(authenticate(&plain, Some(&format!("Bearer {t}"))).is_err());
        assert!(
            JwtSecret::new(vec![])
                .with_public_keys("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----")
                .is_err()
        );
    }
}
