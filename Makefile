# The README's commands. `make setup` runs first and is idempotent (seconds when up to date).
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup test test-fast demo bench doctor clean

setup:
	@bash scripts/setup.sh

test: setup  ## the whole suite, slow Horovod and cluster tests included (what CI runs)
	$(PY) -m pytest -ra $(PYTEST_ARGS)

test-fast: setup  ## everything but the slow tests
	$(PY) -m pytest -ra -m "not slow" $(PYTEST_ARGS)

demo: setup  ## the main job
	$(PY) -m sparkdl_kit doctor
	$(PY) jobs/demo.py --num-proc 2

bench: setup  ## every benchmark under bench/, each printing its ratios
	@set -e; for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b; done

doctor: setup
	$(PY) -m sparkdl_kit doctor

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
