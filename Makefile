# Two commands on a fresh clone: `make run` and `make test`. Each sets itself up.
SHELL := bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-bank check lint typecheck layers fmt clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# pipefail keeps a failed install failing; the filter only hides this machine's pip notices.
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -m pip install --quiet -e '.[dev]' 2>&1 | { grep -v '^WARNING: Location' || true; }
	$(BIN)/python -c "import courtyard, fastapi, sqlalchemy, vodozemac"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/courtyard demo

# The bank-under-fire test (tests/e2e/test_bank_under_fire.py) runs 1,500 transfers with 20
# SIGKILLs here to keep CI within its time budget; `make test-bank` runs the full 10,000.
# The suite runs on TEST_WORKERS processes (pytest-xdist); TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	COURTYARD_BANK_TRANSFERS=$${COURTYARD_BANK_TRANSFERS:-1500} $(BIN)/python -m pytest \
		-n $(TEST_WORKERS) $(PYTEST_ARGS)

test-bank: $(STAMP)
	COURTYARD_BANK_TRANSFERS=10000 $(BIN)/python -m pytest tests/e2e/test_bank_under_fire.py -s

# Debian's chromium for the browser tests (never `playwright install`); best effort: without
# it (no root, no apt) the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		</dev/null >/dev/null; } || echo "chromium not installed: browser tests will be skipped"

check: $(STAMP) lint typecheck layers

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
