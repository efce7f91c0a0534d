# session-sync: two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV := .tools/checkov/bin/checkov
N ?= 200
FAIL_RATE ?= 0

.PHONY: setup test unit lint local-up local-down local-status local-reset demo bench chaos chaos-down lock package clean

setup: $(BIN)/session-sync $(CHECKOV)

$(BIN)/session-sync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

$(CHECKOV):
	$(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet 'checkov==3.3.30'

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict shared

test: setup lint
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=80

unit: setup
	$(BIN)/pytest tests/unit

local-up: setup
	PIPELINE_MODE=local $(BIN)/session-sync local up
local-down: setup
	PIPELINE_MODE=local $(BIN)/session-sync local down
local-status: setup
	PIPELINE_MODE=local $(BIN)/session-sync local status
local-reset: setup
	PIPELINE_MODE=local $(BIN)/session-sync local reset

demo: setup
	PIPELINE_MODE=local $(BIN)/session-sync local up
	PIPELINE_MODE=local $(BIN)/session-sync demo --sessions $(N) --fail-rate $(FAIL_RATE)

bench: setup
	PIPELINE_MODE=local $(BIN)/session-sync local up
	PIPELINE_MODE=local $(BIN)/python -m bench.cost_bench
	PIPELINE_MODE=local $(BIN)/python -m bench.pipeline_bench
	PIPELINE_MODE=local $(BIN)/python -m bench.drain_bench
	$(BIN)/python -m bench.transform_bench

chaos: setup
	$(BIN)/python -m bench.chaos
chaos-down: setup
	$(BIN)/python -m bench.chaos --down

lock: setup
	$(BIN)/python terraform/scripts/lock_requirements.py

package: setup
	$(BIN)/python terraform/scripts/build_source_archive.py

clean:
	-PIPELINE_MODE=local $(BIN)/session-sync local down
	-$(BIN)/python -m bench.chaos --down
	rm -rf $(VENV) .tools .local-stack .local-stack-chaos .pytest_cache .mypy_cache .ruff_cache .coverage
