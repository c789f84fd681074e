# Two commands set everything up on a fresh machine (Python 3.11, pip, make):
#   make report - create .venv, install mrkit, run the sweeps and write results/report.html
#   make test   - create .venv, install mrkit with its test tools, run the test suite (the 15 slowest tests listed)
#   make test-fast - the suite without the browser, slow, containers and notebook tests (markers in pyproject.toml):
#                 under 2 minutes on 2 cores
#   make demo   - a quick look: word count at 1, 2 and 4 workers
#   make bench  - word count against a plain Python count and the installed peers, each also with mrkit's
#                 count_words (runtime overhead vs tokenizer), 1k-100k-task scale, fixed cost (results/bench/)
#   make lint   - ruff check and ruff format --check (settings in pyproject.toml), as CI runs it
#   make validate-model - measure calibrate + the lab's four sweeps on 2 CPUs and 1 CPU, check `mrkit predict`
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
# make test and test-fast run on TEST_PROCESSES pytest processes (pytest-xdist); --dist loadscope gives each module to one
# process, so a module's fixture (a report, an image build, a calibration sweep) is built once.
TEST_PROCESSES ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadscope --durations=15

.PHONY: setup test test-fast lint report demo bench validate-model clean

$(STAMP): pyproject.toml constraints/test.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# constraints/test.txt pins the test stack whose behaviour the tests depend on (moto above all).
	$(BIN)/python -m pip install --quiet -e '.[dev]' -c constraints/test.txt
	touch $@

setup: $(STAMP)

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not browser and not slow and not containers and not notebook"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The ECS section on the local stand-in (no AWS account needed); its tasks run as containers when docker or
# podman works here, built from the cached Debian base when .ci/container-base can make one (Docker Hub out of reach).
report: $(STAMP)
	$(BIN)/mrkit report --stand-in $$(base=$$(.ci/container-base 2>/dev/null) && echo --base-image "$$base")

demo: $(STAMP)
	$(BIN)/mrkit demo

# BENCH_ARGS=--memory-2gb adds the 2 GB memory-flatness suite; --quick for a fast look.
bench: $(STAMP)
	$(BIN)/python bench/bench.py $(BENCH_ARGS)

# VALIDATE_ARGS=--predict-only reuses what results/validate-model/ holds; --cpus-sets 0-3 0-7 on bigger machines.
validate-model: $(STAMP)
	$(BIN)/python bench/validate_model.py $(VALIDATE_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info results/corpus
