#!/usr/bin/env bash
# Refreshes the Swagger UI assets `/docs` serves (checked in under
# crates/gateway-http/assets/swagger-ui, compiled into the binary so the page works offline):
# `bash scripts/vendor-swagger-ui.sh 5.35.0` takes that version of swagger-ui-dist from the npm
# registry and records it with the files' sha256 in VERSION.
set -euo pipefail
version="${1:?usage: vendor-swagger-ui.sh VERSION (e.g. 5.35.0)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/crates/gateway-http/assets/swagger-ui"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack -q "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
mkdir -p "$dest"
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
    # The source maps are not shipped: drop the comment that points browsers at them.
    sed '/^\/\*# sourceMappingURL=.*\*\/$/d; /^\/\/# sourceMappingURL=.*$/d' "$tmp/package/$f" >"$dest/$f"
done
{
    echo "swagger-ui-dist $version (npm registry, Apache-2.0; see LICENSE)"
    (cd "$dest" && sha256sum swagger-ui-bundle.js swagger-ui.css)
} >"$dest/VERSION"
cat "$dest/VERSION"
