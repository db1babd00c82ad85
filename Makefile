# Two commands for a fresh machine:  `make demo` runs the demo,  `make test` runs every test.
# Each builds the virtual environment it needs first, from the pinned set in constraints.txt
# (the versions the test suite passed with); `make lock` refreshes that set from PyPI.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIN    := constraints.txt
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(PIN) | cksum | cut -d' ' -f1)
EXTRAS ?= postgres,redis,s3,ray,onnx,xgboost,lightgbm,tfdv,plots,grpc,otel,dev
PIP    := -m pip install --disable-pip-version-check --progress-bar on

.PHONY: demo test lint venv lock clean

venv: $(STAMP)

$(STAMP): pyproject.toml $(PIN)
	@test -x $(PY) || { echo "== creating $(VENV)"; python3 -m venv $(VENV); }
	@echo "== installing loopml[$(EXTRAS)] with the pinned versions of $(PIN) (first run: about two minutes)"
	$(PY) $(PIP) -c $(PIN) pip
	$(PY) $(PIP) -c $(PIN) -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP) && echo "== $(VENV) ready"

demo: $(STAMP)
	$(VENV)/bin/loopml demo

# Doctests: every `Example:` in src/loopml runs. Left out, each for a stated reason:
#   loopml/examples          - example projects (scripts with their own data), run by tests/e2e and `loopml demo`
#   loopml/store/migrations  - Alembic scripts: importing env.py runs a migration (Alembic imports it)
DOCTEST_IGNORE := --ignore=src/loopml/examples --ignore=src/loopml/store/migrations

# The official MLflow client for the compatibility tests, in its own environment (its pins stay out of ours).
MLFLOW_REQ := tests/server/mlflow/requirements.txt
.venv-mlflow/.installed: $(MLFLOW_REQ)
	python3 -m venv .venv-mlflow && .venv-mlflow/bin/python $(PIP) -r $(MLFLOW_REQ) && touch $@

test: $(STAMP) .venv-mlflow/.installed
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider --doctest-modules $(DOCTEST_IGNORE) src/loopml
	$(PY) -m pytest -q -m "" --durations=15 tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# Resolve the newest versions pyproject.toml allows in a scratch environment and pin them.
# Run `make lock test` and commit constraints.txt when the suite passes.
lock:
	rm -rf $(VENV)-lock && python3 -m venv $(VENV)-lock
	$(VENV)-lock/bin/python $(PIP) -U pip
	$(VENV)-lock/bin/python $(PIP) '.[$(EXTRAS)]'
	{ echo "# Pinned versions the test suite passed with; 'make lock' refreshes them."; \
	  $(VENV)-lock/bin/python -m pip freeze --all --exclude-editable | grep -v -e '^loopml[= ]' -e '^setuptools=' -e '^wheel='; } > $(PIN)
	rm -rf $(VENV)-lock

clean:
	rm -rf $(VENV) $(VENV)-lock .venv-mlflow .loopml
