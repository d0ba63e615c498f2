# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# pip's own noise about the machine's optional local indexes is not ours to show
QUIET  := 2>&1 | { grep -v "^WARNING: Location" || true; }
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: demo test test-slow bench install install-test fashion-mnist chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# installed once; reinstalled when pyproject.toml changes
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -q -e ".[all]" $(QUIET)
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[all,test]" $(QUIET)
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Trains the seed's 784-128-128-10-style MLP on scikit-learn's bundled 8x8 digits.
demo: install
	$(BIN)/glassnet train --model mlp --dataset digits --epochs 20 --batch-size 32 --lr 1e-3 --seed 0 \
		--save runs/demo/model.safetensors
	$(BIN)/glassnet evaluate --load runs/demo/model.safetensors

# Debian's Fashion-MNIST package, when we may install it (root) and it is not there yet.
fashion-mnist:
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1) || \
		echo "note: could not install dataset-fashion-mnist; its tests will be skipped"; \
	fi

# Debian's Chromium, for the browser test of the HTML report (skipped without it).
chromium:
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		(apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) || \
		echo "note: could not install chromium; the report's browser test will be skipped"; \
	fi

test: install-test fashion-mnist chromium
	$(BIN)/python -m pytest -q

test-slow: install-test fashion-mnist
	$(BIN)/python -m pytest -q -m slow

# glassnet beside PyTorch: the MLP epoch, then every ready model (training at 1 and 2 threads,
# memory, inference, GEMM peak, the time-to-accuracy command); sized for under 10 minutes on 2 cores.
# The scale table is separate (long): $(BIN)/python bench/bench_scale.py
# Then 1 rank against 2 ranks over MPI (mlp, cnn, gpt; about a minute).
bench: install-test fashion-mnist
	$(BIN)/python bench/bench_mlp.py
	$(BIN)/python bench/bench_models.py
	$(BIN)/python bench/bench_distributed.py

clean:
	rm -rf $(VENV) runs .pytest_cache
