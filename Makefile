# socklab -- the two commands: `make lab` (start the lab) and `make test` (prove it works).
# LAB=name selects another, fully separate lab: LAB=alice make lab / LAB=alice make down.

PYTHON ?= python3
LAB_TOOL := $(PYTHON) tools/lab.py
VENV := .venv
export TESTCONTAINERS_RYUK_DISABLED := true
export DOCKER_BUILDKIT := 0

.PHONY: help lab down clean logs shell map images test unit integration bench venv

help:  ## list the targets
	@echo "socklab -- a network-programming lab on a private Docker network"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 20
	@echo
	@echo "  LAB=name make lab   a second, separate lab (own network, volumes, host ports)"

lab:  ## build what is missing, start every host, wait until healthy, print the lab map
	@$(LAB_TOOL) up

down:  ## stop this lab (its stored mail, files and news stay in its volumes)
	@$(LAB_TOOL) down

clean:  ## stop this lab and delete its volumes
	@$(LAB_TOOL) clean

logs:  ## follow the servers' logs
	@$(LAB_TOOL) logs

shell:  ## open a shell on the client host
	@$(LAB_TOOL) shell

map:  ## print the lab map of the running lab
	@$(LAB_TOOL) map

images:  ## build the images only
	@$(LAB_TOOL) build

bench:  ## measure start-up, memory and the servers under load, beside real peers (~10 min)
	@$(PYTHON) tools/bench.py $(BENCH_ARGS)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

test: $(VENV)/.installed  ## run every test: unit tests, then the lab across containers
	$(VENV)/bin/pytest tests

unit: $(VENV)/.installed  ## the unit tests only (no Docker)
	$(VENV)/bin/pytest tests/unit

integration: $(VENV)/.installed  ## the integration tests only
	$(VENV)/bin/pytest tests/integration
