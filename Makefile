# The registry's two commands: `make run` and `make test`.
# Needs only Python 3.11 (python3.11, or python3 when that is 3.11).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 4
TEST_WORKERS ?= 2
LOADTEST_USERS ?= 25
LOADTEST_SECONDS ?= 30

.PHONY: run serve-prod test lint format benchmark loadtest clean

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "The registry needs Python 3.11 (Django 5.2 LTS, pandas < 3); found " + sys.version.split()[0] + ". Run make PYTHON=/path/to/python3.11.")'
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.installed: requirements.txt $(VENV)/.python-ok
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

var/secret_key:
	@mkdir -p var
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@
	@chmod 600 $@

# Set up everything, load the demo cohort into an empty database, and serve.
run: $(VENV)/.installed var/secret_key
	@$(BIN)/python manage.py migrate --noinput && \
	$(BIN)/python manage.py createcachetable && \
	$(BIN)/python manage.py collectstatic --noinput -v0 && \
	$(BIN)/python manage.py seed_demo --if-empty && \
	echo "Serving the registry on http://$(HOST):$(PORT)/ (Ctrl-C stops it)" && \
	$(BIN)/python manage.py runserver --noreload $(HOST):$(PORT)

# Serve as production does: gunicorn, WORKERS (4) processes, after migrate and
# collectstatic; no demo data loaded. DATABASE_URL picks the database.
# Several workers: one cache for all of them (registry_cache), unless REGISTRY_CACHE says otherwise
serve-prod: export REGISTRY_CACHE ?= database
serve-prod: $(VENV)/.installed var/secret_key
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/gunicorn -c python:registry.gunicorn_config registry.wsgi:application \
		--workers $(WORKERS) --bind $(HOST):$(PORT)

# Install what the tests need and run the whole suite (DATABASE_URL picks the database)
# on TEST_WORKERS (2) processes, each with its own test database (pytest-xdist), a
# test class or module to a process at a time. PYTEST_ARGS picks tests or options:
# PYTEST_ARGS="-n 0" runs serially, PYTEST_ARGS=tests/registry/test_forms.py a part.
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

# Time and measure a survival report on a synthetic registry (PATIENTS=10000).
benchmark: $(VENV)/.installed
	$(BIN)/python benchmarks/report_benchmark.py --patients $${PATIENTS:-10000}

# Load-test a registry already serving on HOST:PORT (make serve-prod) with the demo
# logins: LOADTEST_USERS (25) users for LOADTEST_SECONDS (30); 127.0.0.1 only.
loadtest: $(VENV)/.installed
	$(BIN)/python benchmarks/load_test.py --url http://$(HOST):$(PORT) \
		--users $(LOADTEST_USERS) --duration $(LOADTEST_SECONDS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .hypothesis
