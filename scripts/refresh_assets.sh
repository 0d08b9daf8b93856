#!/usr/bin/env bash
# Refresh the dashboard's vendored front-end assets from the npm registry, at the pinned
# versions below. The dashboard serves them itself: no CDN at run time (offline use).
# Usage: scripts/refresh_assets.sh   (needs npm and tar; commit the result)
set -euo pipefail
cd "$(dirname "$0")/.."

HTMX_VERSION=2.0.11
DEST=src/meterbill/dashboard/static/vendor
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

(cd "$WORK" && npm pack --silent "htmx.org@$HTMX_VERSION" >/dev/null && tar xzf htmx.org-*.tgz)
mkdir -p "$DEST"
cp "$WORK/package/dist/htmx.min.js" "$DEST/htmx.min.js"
cp "$WORK/package/LICENSE" "$DEST/htmx.LICENSE"
echo "htmx.org $HTMX_VERSION" > "$DEST/VERSIONS"
echo "vendored htmx.org $HTMX_VERSION into $DEST"
