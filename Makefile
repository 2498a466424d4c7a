# Set-up and everyday commands. `make train` and `make test` create the environment on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The torch release the project is tested with; override (e.g. TORCH=torch) to take another build.
TORCH ?= torch==2.13.0

.PHONY: install train test test-slow lint format bench sweep check-latest

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q "$(TORCH)"
	# an earlier dependency, which pins optuna<3: removed from environments made before
	if $(VENV)/bin/pip show -q hydra-optuna-sweeper 2>/dev/null; then $(VENV)/bin/pip uninstall -q -y hydra-optuna-sweeper; fi
	$(VENV)/bin/pip install -q -e ".[all,dev]"
	touch $@

train: install
	$(PY) train.py

test: install
	$(PY) -m pytest -m "not slow" -q

test-slow: install
	$(PY) -m pytest -m slow -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The newest releases of torch, Lightning, Hydra, W&B and Optuna, beyond pyproject.toml's bounds, in a scratch
# venv, then the fast tests: does the code (its Lightning internals above all) still work with them? Not in CI.
LATEST_VENV ?= .venv-latest
LATEST := torch pytorch-lightning torchmetrics hydra-core wandb optuna

check-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install -q --upgrade pip
	$(LATEST_VENV)/bin/pip install -q -e ".[all,dev]"
	$(LATEST_VENV)/bin/pip install -q --upgrade $(LATEST)
	$(LATEST_VENV)/bin/python -m pip list 2>/dev/null | grep -iE '^($(subst $(eval) ,|,$(LATEST))) '
	$(LATEST_VENV)/bin/python -m pytest -m "not slow" -q

bench: install
	$(PY) -m mnist1d.apps.bench

sweep: install
	$(PY) sweep.py

# A single-node SLURM cluster on this machine for `launcher=submitit_slurm` (root; Debian's slurm-wlm and
# munge): `make slurm`, then `export SLURM_CONF=$(SLURM_DIR)/slurm.conf`; `make slurm-stop` ends it.
SLURM_DIR ?= /tmp/mnist1d-slurm
.PHONY: slurm slurm-stop

slurm:
	scripts/slurm_cluster.sh start $(SLURM_DIR)

slurm-stop:
	scripts/slurm_cluster.sh stop $(SLURM_DIR)

# What a bare GPU machine lacks, as wheels in $(WHEELS) (Hydra with its joblib launcher, W&B, pytest, at this
# environment's versions; about 30 MB): scripts/gpu_check.sh installs them there without a network.
WHEELS ?= .wheels
GPU_PACKAGES := hydra-core|omegaconf|hydra-joblib-launcher|wandb|pytest|pytest-timeout
.PHONY: gpu-wheels

gpu-wheels: install
	$(PY) -m pip wheel -q --no-deps -w $(WHEELS) antlr4-python3-runtime==4.9.3
	$(PY) -m pip download -q --only-binary=:all: -d $(WHEELS) --find-links $(WHEELS) "setuptools>=77" \
		$$($(PY) -m pip freeze | grep -iE '^($(GPU_PACKAGES))==')
