# The two commands a newcomer needs (see README.md):
#   make demo   the console with its demo world on http://127.0.0.1:8000
#   make test   the whole test suite
#   make bench BENCH="read --seconds 60"   a benchmark (see README), on a database of its own
#   make supervise   the Procfile's processes (production's set), restarted when they crash
#   make check       lint, typecheck, migrations-check and test: what CI runs (.ci/run)
# Everything the project needs is installed from here; a fresh machine starts bare.

VENV   := .venv
PY     := $(VENV)/bin/python
# The interpreter the venv is made from: Debian's python3.11 first, when it can make a venv. It is
# built with profile-guided and link-time optimisation and linked statically; an interpreter built
# without them (pyenv's default build, the first python3.11 on PATH here) ran the write verifier's
# conversion ~25% slower and its web and drain ~15% slower, measured side by side (README
# "Benchmarks"). Another one: make PYTHON=/path/to/python3.11 (after `make clean`).
PYTHON ?= $(or $(shell for candidate in /usr/bin/python3.11 python3.11 python3; do \
  command -v $$candidate >/dev/null 2>&1 && $$candidate -c 'import ensurepip' 2>/dev/null \
  && { command -v $$candidate; break; }; done),python3)
PYTEST_ARGS ?=
BENCH ?= compare

.PHONY: demo test bench supervise lint typecheck migrations-check check check-deploy clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 is required, found {sys.version.split()[0]} at {sys.executable}"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

demo: $(VENV)/.installed
	$(PY) -m console.launcher demo

test: $(VENV)/.installed
	@bash scripts/ensure-chromium.sh
	$(PY) -m console.launcher test $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(PY) -m console.launcher bench $(BENCH)

supervise: $(VENV)/.installed
	$(PY) -m console.launcher supervise

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy .

# Fails when a model change has no migration; needs no database (--dry-run, no history check).
migrations-check: $(VENV)/.installed
	$(PY) manage.py makemigrations --check --dry-run

check: lint typecheck migrations-check test

check-deploy: $(VENV)/.installed
	CONSOLE_ENV=production SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	  ALLOWED_HOSTS=console.example.bank $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) .state staticfiles artifacts
