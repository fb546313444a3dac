//! Bearer JWT authentication. Claims: `org` (scopes everything), `role` (root, manager or
//! backend), `sub`, `exp`; `nbf`, `iat`, and `iss`/`aud` when the operator sets them. HS256
//! with the gateway's secret (unless the operator turns it off, as it is by default once
//! issuers are configured), or RS256/ES256 with the public keys of the operator's token
//! issuers (a PEM or JWKS file, configured: never fetched from anything a token carries). A
//! token may live at most the configured lifetime (24 h by default), from its `iat` or now.

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
}

/// The longest a token may live by default: a day.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;

/// How bearer tokens are verified: the HS256 secret (`None`: HS256 is off) and, optionally,
/// token issuers' public keys, the `iss`/`aud` every token must carry and the longest a token
/// may live. `Debug` shows no key.
#[derive(Clone)]
pub struct JwtSecret(Option<Vec<u8>>, Issuers);

/// Token issuers' public keys, by algorithm, and the claims they must set.
#[derive(Clone)]
struct Issuers {
    keys: Vec<(Algorithm, Option<String>, DecodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
    max_lifetime: i64,
}

impl Default for Issuers {
    fn default() -> Self {
        Issuers { keys: Vec::new(), issuer: None, audience: None, max_lifetime: MAX_TOKEN_LIFETIME_SECS }
    }
}

impl JwtSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        JwtSecret(Some(bytes), Issuers::default())
    }

    /// No HS256 secret: only the configured issuers' RS256/ES256 tokens are accepted.
    pub fn issuers_only() -> Self {
        JwtSecret(None, Issuers::default())
    }

    /// Whether HS256 tokens (the gateway's own secret) are accepted.
    pub fn accepts_hs256(&self) -> bool {
        self.0.is_some()
    }

    /// A token may live at most this many seconds (from its `iat`, or from now).
    pub fn with_max_lifetime(mut self, seconds: i64) -> Self {
        self.1.max_lifetime = seconds.max(1);
        self
    }

    /// Accepts RS256 and ES256 tokens signed by the keys in `text`: PEM public keys (RSA or EC
    /// P-256; several blocks may follow one another) or a JWKS document.
    pub fn with_public_keys(mut self, text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_str(text).map_err(|e| format!("the JWKS document is not valid: {e}"))?;
            for jwk in &set.keys {
                // A key for encryption, or for another algorithm, never verifies a token.
                let id = jwk.common.key_id.as_deref().unwrap_or("(no kid)");
                if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
                {
                    return Err(format!("the JWKS key {id} is not for signatures (\"use\" is not \"sig\")"));
                }
                let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("a JWKS key is not usable: {e}"))?;
                let alg = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => return Err("a JWKS key is neither RSA nor EC: only RS256 and ES256 are accepted".into()),
                };
                if let Some(declared) = &jwk.common.key_algorithm
                    && format!("{declared:?}") != format!("{alg:?}")
                {
                    return Err(format!(
                        "the JWKS key {id} declares \"alg\" {declared:?}: only RS256 (RSA) and ES256 (EC P-256) are accepted"
                    ));
                }
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
    /// The key LOCAL upload URLs are signed with, derived so neither verifies the other's
    /// tokens; `None` when HS256 is off (the caller derives it from another key).
    pub fn upload_key(&self) -> Option<gateway_service::UploadKey> {
        self.0.as_deref().map(gateway_service::UploadKey::derive)
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
    let Some(key) = &secret.0 else {
        return Err("HS256 is off (GATEWAY_JWT_HS256=false): tokens come from the configured issuers".into());
    };
    if ttl_seconds > secret.1.max_lifetime {
        return Err(format!(
            "a token may live at most {} s (GATEWAY_JWT_MAX_LIFETIME_SECS): ask for a shorter --ttl",
            secret.1.max_lifetime
        ));
    }
    let now = gateway_domain::now_seconds();
    let claims = Claims {
        org: org.to_owned(),
        role: role.to_owned(),
        sub: sub.to_owned(),
        exp: now.saturating_add(ttl_seconds),
        iat: Some(now),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(key))
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
    let hs;
    // Every key that may have signed it: the one its `kid` names, or without a `kid` each key
    // of its algorithm in turn.
    let keys: Vec<&DecodingKey> = match header.alg {
        Algorithm::HS256 => match &secret.0 {
            Some(bytes) => {
                hs = DecodingKey::from_secret(bytes);
                vec![&hs]
            }
            None => {
                return Err(unauthorized("HS256 tokens are not accepted here: use a token of the configured issuer"));
            }
        },
        Algorithm::RS256 | Algorithm::ES256 => secret
            .1
            .keys
            .iter()
            .filter(|(alg, kid, _)| *alg == header.alg && (header.kid.is_none() || kid.is_none() || *kid == header.kid))
            .map(|(_, _, k)| k)
            .collect(),
        _ => return Err(unauthorized("the token must be signed with HS256, RS256 or ES256")),
    };
    if keys.is_empty() {
        return Err(unauthorized("no configured issuer key verifies this token's algorithm or key id"));
    }
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
    let mut decoded = Err(jsonwebtoken::errors::ErrorKind::InvalidSignature.into());
    for key in keys {
        decoded = jsonwebtoken::decode::<Claims>(token, key, &validation);
        let wrong_key = matches!(&decoded, Err(e) if *e.kind() == jsonwebtoken::errors::ErrorKind::InvalidSignature);
        if !wrong_key {
            break;
        }
    }
    let data = decoded.map_err(|e: jsonwebtoken::errors::Error| {
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
    let born = claims.iat.unwrap_or_else(gateway_domain::now_seconds);
    if claims.exp.saturating_sub(born) > secret.1.max_lifetime {
        return Err(unauthorized(&format!(
            "the token lives longer than the {} s the gateway accepts: ask the issuer for a shorter-lived one",
            secret.1.max_lifetime
        )));
    }
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

    /// With HS256 off, HS256 tokens are refused; a token longer-lived than the cap is refused.
    #[test]
    fn hs256_can_be_off_and_lifetimes_are_capped() {
        let s = JwtSecret::new(b"test-secret-test-secret-test-secret".to_vec()).with_max_lifetime(3600);
        assert!(issue_token(&s, "acme", "root", "ann", 7200).unwrap_err().contains("at most 3600"));
        let long = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"org": "acme", "role": "root", "sub": "a", "exp": gateway_domain::now_seconds() + 7200}),
            &EncodingKey::from_secret(b"test-secret-test-secret-test-secret"),
        )
        .unwrap();
        let e = authenticate(&s, Some(&format!("Bearer {long}"))).unwrap_err();
        assert!(e.0.message.contains("lives longer"), "{}", e.0.message);
        let t = issue_token(&s, "acme", "root", "ann", 60).unwrap();
        let off = JwtSecret::issuers_only();
        let e = authenticate(&off, Some(&format!("Bearer {t}"))).unwrap_err();
        assert!(e.0.message.contains("HS256 tokens are not accepted"), "{}", e.0.message);
        assert!(issue_token(&off, "acme", "root", "ann", 60).is_err());
        assert!(off.upload_key().is_none());
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
        // A token without `kid` is tried against every key of its algorithm: one signed by
        // the second RSA key verifies.
        let second = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let two = JwtSecret::issuers_only()
            .with_public_keys(&format!("{rsa_public}{}", pem("RSA PUBLIC KEY", second.public_key().as_ref())))
            .unwrap();
        let mut plain_claims = claims.clone();
        plain_claims.as_object_mut().unwrap().remove("iss");
        plain_claims.as_object_mut().unwrap().remove("aud");
        let by_second = sign(Algorithm::RS256, &pem("PRIVATE KEY", second.as_der().unwrap().as_ref()), plain_claims);
        assert!(authenticate(&two, Some(&format!("Bearer {by_second}"))).is_ok());
        // JWKS keys for encryption, or declaring another algorithm, are refused at start.
        let jwk = |extra: &str| {
            format!(
                r#"{{"keys": [{{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"{extra}}}]}}"#
            )
        };
        assert!(JwtSecret::issuers_only().with_public_keys(&jwk("")).is_ok());
        assert!(
            JwtSecret::issuers_only()
                .with_public_keys(&jwk(r#", "use": "enc""#))
                .unwrap_err()
                .contains("not for signatures")
        );
        assert!(
            JwtSecret::issuers_only().with_public_keys(&jwk(r#", "alg": "RS256""#)).unwrap_err().contains("declares")
        );
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
