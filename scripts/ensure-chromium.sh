#!/bin/sh
# Headless Chromium for tests/test_dashboard.py, from Debian's `chromium` package.
# Fast when it is there; installs it when this machine can (root with apt-get); otherwise
# says why and leaves the decision to the test (skipped, or failed with
# GATEWAY_REQUIRE_SERVICES=1 as in CI).
set -eu
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then exit 0; fi
done
if [ -n "${GATEWAY_CHROMIUM:-}" ] && [ -x "${GATEWAY_CHROMIUM}" ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-chromium: chromium is not installed and this is not root with apt-get;" \
        "the browser test of the dashboard will be skipped (install Debian's chromium)" >&2
    exit 0
fi
echo "ensure-chromium: installing Debian's chromium for the dashboard's browser test" >&2
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then exit 0; fi
echo "ensure-chromium: could not install chromium (see apt-get above)" >&2
