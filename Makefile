# Every target works on a fresh clone: `make run` and `make test` set up what they need first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Prefect's telemetry fails loudly offline and is not wanted anywhere this project starts Prefect.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: setup run test sandbox bench lock clean

setup: $(VENV)/.installed
	@$(PY) -m sandbox.controlplane >/dev/null

$(VENV)/.installed: pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) is not installed (Python 3.11 is needed)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@touch $@

run: setup
	$(PY) -m flows.bootstrap

test: setup
	$(PY) -m pytest

sandbox: setup
	$(PY) -m flows.sandbox

bench: setup
	@if [ -d benchmarks ]; then $(PY) -m benchmarks; else echo "no benchmarks yet"; fi

# Re-resolve the dependencies of pyproject.toml and record the exact versions.
lock:
	rm -rf /tmp/ackflow-lock && $(PYTHON) -m venv /tmp/ackflow-lock
	/tmp/ackflow-lock/bin/pip install --quiet -e '.[test]'
	{ head -n 2 constraints.txt; /tmp/ackflow-lock/bin/pip freeze --exclude-editable; } > constraints.new && mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .sandbox .pytest_cache
