#!/bin/sh
# nginx for tests/test_deploy.py (`nginx -t` on deploy/nginx/gateway.conf, and the balancer
# run against stub replicas), from Debian's `nginx` package. Fast when it is there; installs
# it when this machine can (root with apt-get; Debian's policy-rc.d or the lack of an init
# system keeps the service from starting); otherwise the tests that need it are skipped, or
# failed with GATEWAY_REQUIRE_SERVICES=1 as in CI.
set -eu
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-nginx: nginx is not installed and this is not root with apt-get;" \
        "the load balancer's tests will be skipped (install Debian's nginx)" >&2
    exit 0
fi
echo "ensure-nginx: installing Debian's nginx for the load balancer's tests" >&2
export DEBIAN_FRONTEND=noninteractive
if apt-get install -y -qq --no-install-recommends nginx >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx >/dev/null; }; then
    exit 0
fi
echo "ensure-nginx: could not install nginx (see apt-get above)" >&2
