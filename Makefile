# Tasdir. `make run` starts the embedded system; `make test` runs every test.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV := .tools/bin/uv
UV_VERSION := 0.13.9
PORT ?= 8000
DATA_DIR ?= var
export UV_PYTHON_DOWNLOADS := never

.PHONY: install test test-unit test-integration lint format bench clean

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
