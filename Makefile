# Tasdir. `make run` starts the embedded system; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := .tools/bin/uv
UV_VERSION := 0.13.9
PORT ?= 8000
DATA_DIR ?= var
export UV_PYTHON_DOWNLOADS := never

.PHONY: install test test-unit test-integration lint format bench clean run stack token

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The virtual environment comes from the lock file only (`--frozen`).
$(VENV)/.synced: uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml | $(UV)
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	touch $@

install: $(VENV)/.synced

test: install
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

# `make run [PORT=8000] [DATA_DIR=var]`: every service in one process, no infrastructure.
run: install
	$(BIN)/python -m tasdir.embedded --port $(PORT) --data-dir $(DATA_DIR)

# `make stack`: each service as API, consumer and relay processes, against RabbitMQ, Redis and
# PostgreSQL at the TASDIR_* URLs (default: localhost). APIs on STACK_PORT, +1, +2.
STACK_PORT ?= 8001
STACK_LOG_DIR ?=
stack: install
	$(BIN)/python -m tasdir.stack --base-port $(STACK_PORT) $(if $(STACK_LOG_DIR),--log-dir $(STACK_LOG_DIR))

# `make token ROLE=exporter|provider|advisor|admin [SUB=] [ORG=] [PROVIDER=] [REGIONS=a,b]`
# prints the JWT and nothing else on stdout: install runs silently, its output sent to stderr.
ROLE ?=
SUB ?=
ORG ?=
PROVIDER ?=
REGIONS ?=
token:
	@$(MAKE) --no-print-directory -s install >&2
	@$(BIN)/python -m tasdir.devtoken --role "$(ROLE)" $(if $(SUB),--sub "$(SUB)") \
		$(if $(ORG),--org "$(ORG)") $(if $(PROVIDER),--provider "$(PROVIDER)") \
		$(if $(REGIONS),--regions "$(REGIONS)")
