# Two commands do all set-up on a fresh machine:
#   make report   executes the course into reports/<profile>-<timestamp>/index.html  (PROFILE=smoke|cpu|gpu)
#   make test     runs the test suite
#   make explore  serves the explorer notebook (07) as a Voila page on 127.0.0.1 and prints its address (PORT=N)
# Both create .venv when it is missing. torch is installed first, on its own, so that a machine
# without it takes the wheel named by TORCH (CPU build here) instead of whatever a loose range pulls.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
PROFILE ?= cpu

.PHONY: setup report test explore clean-reports

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

report: setup
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(PY) -m fmlab report --profile $(PROFILE)

test: setup
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(PY) -m pytest -q -rs

explore: setup
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(PY) -m fmlab explore --profile $(PROFILE) $(if $(PORT),--port $(PORT))

clean-reports:
	rm -rf reports
