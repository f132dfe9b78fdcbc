# The two commands a newcomer needs: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install lock test test-unit test-integration demo bench lint infra browser run-site run-hq link clean

# Installs are reproducible: pyproject.toml keeps the ranges, the lock files pin every package
# (direct and transitive) to one version with its hashes. `make install` installs the dev lock
# (the runtime lock plus the test tools) and then the project itself without resolving anything;
# the Dockerfile installs the runtime lock. `make lock` regenerates both after a range changes.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
PIP_VERSION := 26.3

install: $(VENV)/.installed

# The build backend (setuptools) is pinned in the lock too, so the project's own install builds
# with it (--no-build-isolation) instead of fetching an unpinned one.
$(VENV)/.installed: pyproject.toml $(LOCK) $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet pip==$(PIP_VERSION)
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# The lock tool lives in its own throwaway venv, pinned, outside the project's dependencies.
# Existing pins are kept where the ranges allow; `make lock ARGS=--upgrade` moves every package
# to its newest allowed version, `ARGS="--upgrade-package kombu"` one package. The locks are
# resolved for CPython 3.11 on Linux, what the image and the machines run.
UV_VERSION := 0.13.9
LOCK_TOOL := var/lock-tool
UV := $(LOCK_TOOL)/bin/uv
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform linux \
	--custom-compile-command "make lock" --quiet

lock: $(LOCK_TOOL)/.uv-$(UV_VERSION)
	$(UV) pip compile pyproject.toml $(LOCK_FLAGS) -o $(LOCK) $(ARGS)
	$(UV) pip compile pyproject.toml --extra dev -c $(LOCK) $(LOCK_FLAGS) -o $(DEV_LOCK) $(ARGS)

$(LOCK_TOOL)/.uv-$(UV_VERSION):
	$(PYTHON) -m venv $(LOCK_TOOL)
	$(LOCK_TOOL)/bin/pip install --quiet uv==$(UV_VERSION)
	touch $@

infra:
	scripts/ensure-infra

# Debian's Chromium, chromedriver and CJK fonts for tests/browser (installed when missing).
browser:
	scripts/ensure-browser

# Every test (the README's contract, what .ci/run runs).
test: install infra browser
	$(BIN)/pytest $(ARGS)

# The unit tier alone: no database, broker or network (a unit test that tries fails), seconds.
test-unit: install
	$(BIN)/pytest -m unit $(ARGS)

# Everything but the unit tier: integration on the real PostgreSQL and RabbitMQ, and faults.
test-integration: install infra browser
	$(BIN)/pytest -m "not unit" $(ARGS)

demo: install
	@scripts/ensure-infra --soft
	$(BIN)/python -m simulator.demo $(ARGS)

# bench/bi.py loads 10 million quote lines (about 15 minutes here); BI_ARGS=--quick for a small run.
BI_ARGS ?=
bench: install infra
	$(BIN)/python bench/backbone.py $(ARGS)
	$(BIN)/python bench/site_api.py $(ARGS)
	$(BIN)/python bench/partners.py $(ARGS)
	$(BIN)/python bench/bi.py $(BI_ARGS)

lint: install
	$(BIN)/ruff check .

# The same topology as plain processes on the local broker and database (deploy/local):
# `make run-hq`, `make run-site SITE=D001`, `make run-site SITE=D002`, then `make link`.
# Each stack's portal (the pages people open: :8105 / :8205 at a site, :8006 at headquarters)
# comes last, as in the demo's topology.
SITE ?= D001
run-site: install infra
	$(BIN)/aftersales broker setup --vhost site-$(SITE) --services booking,workorder,parts,identity,portal
	$(BIN)/aftersales --config deploy/local/site-$(SITE).yaml db upgrade booking workorder parts identity portal
	$(BIN)/aftersales --config deploy/local/site-$(SITE).yaml run booking workorder parts identity portal

run-hq: install infra
	$(BIN)/aftersales broker setup --vhost hq --services crm,notify,bi,partners,identity,portal
	$(BIN)/aftersales --config deploy/local/hq.yaml db upgrade crm notify bi partners identity portal
	$(BIN)/aftersales --config deploy/local/hq.yaml run crm notify bi partners identity portal

# Site → headquarters shovels (deploy/local/uplinks.yaml); run after `broker setup` of each vhost.
link: install infra
	$(BIN)/aftersales uplink setup
	$(BIN)/aftersales uplink status

clean:
	rm -rf $(VENV) var .pytest_cache
