# Two commands on a fresh machine: `make run` and `make test`. Needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum requirements.lock | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint messages lock bench-seed clean

$(STAMP): requirements.lock
	$(PYTHON) -c 'import sys; sys.exit("需要 Python 3.11 或更高版本 / Python 3.11+ required") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## Serve the site on http://$(HOST):$(PORT) through the ASGI server (websockets included).
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --size small
	$(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT)

## The whole suite: lint, Django checks, migrations in step with models, pytest.
test: install lint
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Extract and compile translations (needs GNU gettext); commit both .po and .mo.
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans -l en --ignore ".venv/*" --ignore "tests/*" --ignore "bench/*" --ignore "staticfiles/*"
	$(BIN)/python manage.py makemessages -d djangojs -l zh_Hans -l en --ignore ".venv/*" --ignore "staticfiles/*" --ignore "static/vendor/*"
	$(BIN)/python manage.py compilemessages -l zh_Hans -l en --ignore ".venv/*"

## Re-resolve pinned dependencies after editing pyproject.toml.
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

## District-scale demo data for benchmarks (50k volunteers, 10k applicants, 1k organisations).
bench-seed: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --size district

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache artifacts
