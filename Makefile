# Two commands do all set-up on a fresh machine:
#   make report   executes the course into reports/<profile>-<timestamp>/index.html  (PROFILE=smoke|cpu|gpu)
#   make test     runs the test suite (what CI runs)
#   make test-fast  the inner loop: every test but the notebook, browser, distributed and slow ones (< 2 min)
#   make explore  serves the explorer notebook (07) as a Voila page on 127.0.0.1 and prints its address (PORT=N)
#   make lab      JupyterLab on the course's notebooks, on 127.0.0.1 (as root too), with its token in the address
# Both create .venv when it is missing. torch is installed first, on its own, so that a machine
# without it takes the wheel named by TORCH (CPU build here) instead of whatever a loose range pulls.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
PROFILE ?= cpu

.PHONY: setup report test test-fast explore lab clean-reports gpu-wheels gpu-check

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
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(PY) -m pytest -q -rs --durations=20

test-fast: setup
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(PY) -m pytest -q -rs \
		-m "not notebook and not browser and not distributed and not slow"

explore: setup
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(PY) -m fmlab explore --profile $(PROFILE) $(if $(PORT),--port $(PORT))

# --allow-root only where it is needed (a container's root); the server makes its own token and prints the address
lab: setup
	NUMBA_CACHE_DIR=$${NUMBA_CACHE_DIR:-$(HOME)/.cache/fmlab/numba} $(VENV)/bin/jupyter lab --ip=127.0.0.1 \
		--ServerApp.root_dir=notebooks --no-browser $(if $(filter 0,$(shell id -u)),--allow-root) $(if $(PORT),--port $(PORT))

clean-reports:
	rm -rf reports

# The GPU check (benchmarks/gpu_check.py). The GPU image has Python 3.12 and torch but no network, so the notebook
# tier's packages travel as wheels (carry wheels/ along): `make gpu-wheels`, where PyPI is reachable, downloads them
# for Python 3.12 / manylinux x86_64, leaving out what the image already holds and numba's stack (llvmlite alone is
# 55 MB, past the 64 MB that travels with the code: aeon's UCR/UEA data and UMAP cannot run there). `make gpu-check`
# on the GPU machine unpacks them once into wheels/site (the image stays as it is) and runs the check with them.
WHEELS ?= wheels
GPU_WHEELS ?= papermill ipykernel nbconvert plotly ipywidgets mnist1d
GPU_IMAGE_HAS ?= numpy scipy pandas matplotlib scikit_learn pillow fonttools kiwisolver contourpy pyparsing cycler \
	python_dateutil tzdata joblib threadpoolctl tqdm jinja2 markupsafe typing_extensions pygments packaging psutil pyyaml
GPU_PY ?= $(if $(wildcard $(PY)),$(PY),$(PYTHON))
GPU_SITE := $(abspath $(WHEELS))/site
GPU_CHECK_ARGS ?=

gpu-wheels: setup
	rm -rf $(WHEELS)
	$(PY) -m pip download -q -d $(WHEELS) --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
		--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 $(GPU_WHEELS)
	cd $(WHEELS) && for name in $(GPU_IMAGE_HAS); do rm -f $$name-[0-9]*.whl; done
	@du -sh $(WHEELS)

gpu-check:
	if [ ! -d $(GPU_SITE) ] && ls $(WHEELS)/*.whl >/dev/null 2>&1 && ! $(GPU_PY) -c "import papermill" 2>/dev/null; then \
		$(GPU_PY) -m pip install -q --no-index --no-deps --target $(GPU_SITE) $(WHEELS)/*.whl; fi
	PYTHONPATH=$(GPU_SITE)$${PYTHONPATH:+:$$PYTHONPATH} JUPYTER_PATH=$(GPU_SITE)/share/jupyter \
		$(GPU_PY) benchmarks/gpu_check.py $(GPU_CHECK_ARGS)
