# socklab -- the two commands: `make lab` (start the lab) and `make test` (prove it works).
# LAB=name selects another, fully separate lab: LAB=alice make lab / LAB=alice make down.

PYTHON ?= python3
LAB_TOOL := $(PYTHON) tools/lab.py
VENV := .venv
export TESTCONTAINERS_RYUK_DISABLED := true
export DOCKER_BUILDKIT := 0

.PHONY: help lab down clean logs shell map check images test unit integration bench chaos venv impair heal capture ladder

help:  ## list the targets
	@$(LAB_TOOL) make-help   # this file's `## ` descriptions, in the locale's language (LANG / SOCKLAB_LANG)

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

check:  ## check your exercise programs across the lab (TASK=01 for one; LANG=zh_CN.UTF-8 for Chinese)
	@$(LAB_TOOL) check $(TASK)

map:  ## print the lab map of the running lab
	@$(LAB_TOOL) map

impair:  ## make a host's network worse (HOST=udp-server LOSS=30% RATE=1mbit); alone: what is in effect
	@$(LAB_TOOL) impair

heal:  ## undo make impair: HOST=udp-server, or every host without HOST
	@$(LAB_TOOL) heal

capture:  ## record a host's traffic, then its ladder diagram (HOST=ftp SECONDS=n COUNT=n LIVE=1)
	@$(LAB_TOOL) capture $(HOST) $(if $(SECONDS),--seconds $(SECONDS)) $(if $(COUNT),--count $(COUNT)) $(if $(filter-out 0 no,$(LIVE)),--live)

ladder:  ## draw a capture as a ladder diagram (FILE=workspace/captures/....pcap; default: the newest)
	@$(LAB_TOOL) ladder $(FILE)

images:  ## build the images only
	@$(LAB_TOOL) build

bench:  ## measure start-up, memory and the servers under load, beside real peers (~10 min)
	@$(PYTHON) -m tools.bench $(BENCH_ARGS)

chaos:  ## fuzz, flood, kill -9 and fill up every server of a private lab: nothing lost, no traceback (~10 min)
	@$(PYTHON) -m tools.chaos $(CHAOS_ARGS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) tools/install.py test
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
