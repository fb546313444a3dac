//! `GET /docs`: the API reference page, Swagger UI over `/openapi.json`, from assets compiled
//! into the binary (crates/gateway-http/assets/swagger-ui, refreshed by
//! scripts/vendor-swagger-ui.sh): it works offline and fetches nothing from another origin,
//! which its Content-Security-Policy enforces. "Try it out" sends requests to this gateway
//! with the bearer token given in "Authorize".

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue, X_CONTENT_TYPE_OPTIONS};

const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

/// Scripts from this origin only; Swagger UI sets inline styles and shows data: images.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connections Gateway API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"#;

const INIT: &str = r##"window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: false,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
});
"##;

fn asset(content_type: &'static str, body: &'static [u8], cache: &'static str) -> HttpResponse {
    let mut res = HttpResponse::Ok().content_type(content_type).body(body);
    let headers = res.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    res
}

pub async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", PAGE.as_bytes(), "no-cache")
}

pub async fn init() -> HttpResponse {
    asset("text/javascript; charset=utf-8", INIT.as_bytes(), "no-cache")
}

pub async fn bundle() -> HttpResponse {
    asset("text/javascript; charset=utf-8", BUNDLE, "public, max-age=86400")
}

pub async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS, "public, max-age=86400")
}
