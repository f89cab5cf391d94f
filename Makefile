# Tasdir. `make run` starts the embedded system; `make test` runs every test.
# The first suitable Python: python3.13, python3.12, python3.11 or python3, whichever runs and
# is 3.11 or newer (a pyenv shim of a version that is not selected does not run). `make
# PYTHON=/path/to/python` overrides it.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3
PYTHON_CHECK := -c 'import sys; sys.exit(sys.version_info < (3, 11))'
suitable = $(shell $(1) $(PYTHON_CHECK) >/dev/null 2>&1 && echo $(1))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach candidate,$(PYTHON_CANDIDATES),$(call suitable,$(candidate))))
endif
# Only the recipes that need Python check it, so that `make clean` works without one.
NO_PYTHON := no suitable Python found: Tasdir needs Python 3.11 or newer, as one of \
	$(PYTHON_CANDIDATES) on PATH, or PYTHON=/path/to/python3
NEED_PYTHON = $(if $(PYTHON),,$(error $(NO_PYTHON)))
VENV := .venv
BIN := $(VENV)/bin
UV := .tools/bin/uv
UV_VERSION := 0.13.9
PORT ?= 8000
DATA_DIR ?= var
export UV_PYTHON_DOWNLOADS := never

.PHONY: install test test-unit test-integration fuzz lint format bench clean run demo stack token up down \
	console-messages e2e-browser

$(UV):
	$(NEED_PYTHON)
	@$(PYTHON) $(PYTHON_CHECK) || { \
		echo "PYTHON=$(PYTHON) does not run or is older than 3.11; Tasdir needs 3.11+" >&2; \
		exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The virtual environment comes from the lock file only (`--frozen`).
$(VENV)/.synced: uv.lock pyproject.toml shared/pyproject.toml services/*/pyproject.toml \
		cli/pyproject.toml | $(UV)
	$(NEED_PYTHON)
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	touch $@

install: $(VENV)/.synced

test: install
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

# `make fuzz`: schemathesis over every operation of the OpenAPI document, in full (`make test`
# runs the same test with 20 examples per operation, and the coverage phase as the admin only).
# FUZZ_EXAMPLES and FUZZ_STEPS resize it.
FUZZ_EXAMPLES ?= 500
FUZZ_STEPS ?= 50
fuzz: install
	TASDIR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TASDIR_FUZZ_STATEFUL_STEPS=$(FUZZ_STEPS) \
		TASDIR_FUZZ_COVERAGE=all $(BIN)/pytest tests/fuzz -s

# `make bench [BENCH=engine,http,events] [BENCH_QUICK=1]`: every benchmark (benchmarks/README.md):
# the matching engine against its oracle, the HTTP routes against bare Starlette (wrk), the event
# path against raw aio-pika. Each prints a table and writes benchmarks/results/<name>-<date>.json.
BENCH_QUICK ?=
BENCH ?=
bench: install
	BENCH_QUICK=$(BENCH_QUICK) $(BIN)/python -m benchmarks $(BENCH)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache

# The make targets run the development configuration (the committed dev JWT secret); without
# TASDIR_ENVIRONMENT the library is in production and refuses that secret. `make run
# TASDIR_ENVIRONMENT=production` (with a secret of your own) overrides it.
TASDIR_ENVIRONMENT ?= development
DEV_ENV := TASDIR_ENVIRONMENT=$(TASDIR_ENVIRONMENT)

# `make run [PORT=8000] [DATA_DIR=var] [DEMO=0]`: every service in one process, no
# infrastructure; the demo data set loads in the background unless DEMO=0 (docs/demo.md).
DEMO ?= 1
run: install
	$(DEV_ENV) $(BIN)/tasdir run --port $(PORT) --data-dir $(DATA_DIR) \
		$(if $(filter 0 no false,$(DEMO)),--no-demo)

# `make demo [BASE_URL=http://127.0.0.1:8000]`: the guided walkthrough against a running system.
BASE_URL ?= http://127.0.0.1:$(PORT)
demo: install
	$(DEV_ENV) $(BIN)/tasdir demo walkthrough --base-url $(BASE_URL)

# `make stack`: each service as API, consumer and relay processes, against RabbitMQ, Redis and
# PostgreSQL at the TASDIR_* URLs (default: localhost). APIs on STACK_PORT, +1, +2.
STACK_PORT ?= 8001
STACK_LOG_DIR ?=
# The web console's own port under `make stack` (docs/console.md); CONSOLE_PORT= serves none.
CONSOLE_PORT ?= 8010
stack: install
	$(DEV_ENV) TASDIR_STACK_CONSOLE_PORT=$(CONSOLE_PORT) $(BIN)/tasdir stack --base-port $(STACK_PORT) \
		$(if $(STACK_LOG_DIR),--log-dir $(STACK_LOG_DIR))

# `make up` / `make down`: the real topology in Docker (docker-compose.yml), one URL: the gateway.
up:
	docker compose up -d --build --wait

down:
	docker compose down

# `make token ROLE=exporter|provider|advisor|admin [SUB=] [ORG=] [PROVIDER=] [REGIONS=a,b]`
# prints the JWT and nothing else on stdout: install runs silently, its output sent to stderr.
ROLE ?=
SUB ?=
ORG ?=
PROVIDER ?=
REGIONS ?=
token:
	@$(MAKE) --no-print-directory -s install >&2
	@$(DEV_ENV) $(BIN)/tasdir token --role "$(ROLE)" $(if $(SUB),--sub "$(SUB)") \
		$(if $(ORG),--org "$(ORG)") $(if $(PROVIDER),--provider "$(PROVIDER)") \
		$(if $(REGIONS),--regions "$(REGIONS)")

# `make console-messages`: extract the console's strings again and merge them into its
# catalogues (services/console/src/console/locale/<lang>/LC_MESSAGES/messages.po); the
# console compiles the .po files when it starts (docs/console.md).
CONSOLE_DIR := services/console
CONSOLE_LOCALE := $(CONSOLE_DIR)/src/console/locale
console-messages: install
	cd $(CONSOLE_DIR) && ../../$(BIN)/pybabel extract --no-location --sort-output \
		-F babel.cfg -o src/console/locale/messages.pot .
	$(BIN)/pybabel update -N -i $(CONSOLE_LOCALE)/messages.pot -d $(CONSOLE_LOCALE)

# `make e2e-browser`: the console's browser tests alone (Playwright with Debian's Chromium,
# `apt-get install chromium`; screenshots under test-artifacts/console/). `make test` runs them
# too; Playwright never downloads a browser.
e2e-browser: install
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pytest tests/e2e/test_e2e_console.py
