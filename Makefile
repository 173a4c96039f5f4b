# socklab -- the two commands: `make lab` (start the lab) and `make test` (prove it works).
# LAB=name selects another, fully separate lab: LAB=alice make lab / LAB=alice make down.

PYTHON ?= python3
LAB_TOOL := $(PYTHON) -m tools.lab
VENV := .venv
export DOCKER_BUILDKIT := 0

.PHONY: help lab down clean logs shell map check images test unit integration bench chaos venv impair heal capture ladder k8s \
        class class-down class-clean class-status class-report class-bench

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

bench:  ## measure start-up, memory and the servers under load, beside real peers (~12 min)
	@$(PYTHON) -m tools.bench $(BENCH_ARGS)

chaos:  ## fuzz, flood, kill -9 and fill up every server of a private lab: nothing lost, no traceback (~10 min)
	@$(PYTHON) -m tools.chaos $(CHAOS_ARGS)

k8s:  ## Kubernetes manifests for a class, a namespace per student (ROSTER=class.csv K8S_IMAGE=registry/socklab/lab:tag)
	@$(PYTHON) -m tools.install k8s >&2
	@$(PYTHON) -m tools.k8s $(ROSTER) $(if $(K8S_IMAGE),--image $(K8S_IMAGE)) $(K8S_ARGS)
class:  ## a lab per student of ROSTER=class.csv, entered over SSH (cards in classroom/); a re-run starts what is missing
	@$(PYTHON) -m tools.classroom up $(ROSTER)

class-down:  ## stop every student's lab (their workspaces and volumes stay)
	@$(PYTHON) -m tools.classroom down

class-clean:  ## delete every student's lab and volumes (workspaces stay in classroom/<id>/workspace)
	@$(PYTHON) -m tools.classroom clean

class-status:  ## a row per student: hosts ready, check results, disk used
	@$(PYTHON) -m tools.classroom status

class-report:  ## every student's check results, as classroom/report.csv and classroom/report.html
	@$(PYTHON) -m tools.classroom report

class-bench:  ## start CLASS_LABS labs (20), measure start-up, memory and idle CPU per lab, remove them
	@$(PYTHON) -m tools.classroom bench $(CLASS_LABS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -m tools.install test
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	@touch $@

venv: $(VENV)/.installed

# tests run in 6 processes, a test file at a time each: the labs' tests often wait on
# containers, so they overlap well even on 2 cores (PYTEST_WORKERS=0: all in one process).
# --no-loadscope-reorder: files are handed out in collection order, longest first (see
# tests/conftest.py), not re-sorted by their number of tests.  Every process collects every
# test: one collection first writes the test modules pytest has rewritten (and the byte
# code of what they import) to __pycache__, so that the others read it instead of each
# compiling it all again -- also where PYTHONDONTWRITEBYTECODE is set.
PYTEST_WORKERS ?= 6
PYTEST_BARE := PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest
PYTEST := $(PYTEST_BARE) $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder)
COMPILE_TESTS = $(if $(filter-out 0,$(PYTEST_WORKERS)),@$(PYTEST_BARE) --collect-only -q -p no:cacheprovider $(1) >/dev/null 2>&1 || true)

test: $(VENV)/.installed  ## run every test: unit tests, then the lab across containers
	$(call COMPILE_TESTS,tests)
	$(PYTEST) tests

unit: $(VENV)/.installed  ## the unit tests only (no Docker)
	$(call COMPILE_TESTS,tests/unit)
	$(PYTEST) tests/unit

integration: $(VENV)/.installed  ## the integration tests only
	$(call COMPILE_TESTS,tests/integration)
	$(PYTEST) tests/integration
