# Two commands set everything up on a fresh machine (Python 3.11, pip, make):
#   make report - create .venv, install mrkit, run the sweeps and write results/report.html
#   make test   - create .venv, install mrkit with its test tools, run the test suite
#   make demo   - a quick look: word count at 1, 2 and 4 workers
#   make bench  - word count against a plain Python count and the installed peers, each also with mrkit's
#                 count_words (runtime overhead vs tokenizer), 1k-100k-task scale, fixed cost (results/bench/)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: setup test report demo bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# compat: a plain .pth path entry instead of an import hook run by every interpreter start
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

report: $(STAMP)
	$(BIN)/mrkit report

demo: $(STAMP)
	$(BIN)/mrkit demo

# BENCH_ARGS=--memory-2gb adds the 2 GB memory-flatness suite; --quick for a fast look.
bench: $(STAMP)
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info results/corpus results/demo
