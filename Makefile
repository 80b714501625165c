# robot_stack — `make demo` and `make test` set everything up on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
export MUJOCO_GL ?= egl

.PHONY: setup demo demo-full test bench bench-quick lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	@touch $(STAMP)

demo: setup
	$(PY) -m robot_stack.app.demo

demo-full: setup
	$(PY) -m robot_stack.app.demo --full

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/run_all.py --out-dir docs/bench

bench-quick: setup
	$(PY) bench/run_all.py --quick --out-dir /tmp/robot_stack_bench

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
