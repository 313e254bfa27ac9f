# The two commands: `make run` serves, `make test` tests. Both create the venv when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench failover clean

install: $(STAMP)

# Reinstall only when the dependency list changes; the package itself is installed editable.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# `make run HOST=0.0.0.0 PORT=9000`; without them GATEWAY_HOST/GATEWAY_PORT (.env) or
# 127.0.0.1:8000 apply. Only command-line values count, so a shell's exported HOST is ignored.
RUN_ARGS := $(if $(filter command line,$(origin HOST)),--host $(HOST)) \
            $(if $(filter command line,$(origin PORT)),--port $(PORT))

run: install
	$(BIN)/gateway run $(RUN_ARGS)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@sh scripts/ensure-chromium.sh  # the dashboard's browser test; installs Debian's chromium
	@sh scripts/ensure-nginx.sh  # the load balancer's tests (tests/test_deploy.py); Debian's nginx
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Ours vs stock LiteLLM, Portkey and MLflow on one emulator. The peers install on first use into
# ~/.cache/free-llm-gateway/bench-peers (npm, own venv); BENCH_ARGS=--no-peers leaves them out.
bench: install
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

# Each upstream fault -> what the client got -> time to answer, with the shipped timeouts.
failover: install
	$(BIN)/python scripts/failover.py $(FAILOVER_ARGS)

clean:
	rm -rf $(VENV) data/generated .pytest_cache .ruff_cache
