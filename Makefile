# Two commands set everything up on a fresh machine (Python 3.11, pip, make):
#   make demo   - create .venv, install mrkit, run a word count at a few worker counts
#   make test   - create .venv, install mrkit with its test tools, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: setup test demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# compat: a plain .pth path entry instead of an import hook run by every interpreter start
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/mrkit demo

clean:
	rm -rf $(VENV) build *.egg-info results/corpus results/demo
