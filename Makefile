# The two commands a newcomer needs: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install test demo bench lint infra run-site run-hq link clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

infra:
	scripts/ensure-infra

test: install infra
	$(BIN)/pytest $(ARGS)

demo: install
	@scripts/ensure-infra --soft
	$(BIN)/python -m simulator.demo $(ARGS)

# bench/bi.py loads 10 million quote lines (about 15 minutes here); BI_ARGS=--quick for a small run.
BI_ARGS ?=
bench: install infra
	$(BIN)/python bench/backbone.py $(ARGS)
	$(BIN)/python bench/site_api.py $(ARGS)
	$(BIN)/python bench/bi.py $(BI_ARGS)

lint: install
	$(BIN)/ruff check .

# The same topology as plain processes on the local broker and database (deploy/local):
# `make run-hq`, `make run-site SITE=D001`, `make run-site SITE=D002`, then `make link`.
SITE ?= D001
run-site: install infra
	$(BIN)/aftersales broker setup --vhost site-$(SITE) --services booking,workorder,parts
	$(BIN)/aftersales --config deploy/local/site-$(SITE).yaml db upgrade booking workorder parts
	$(BIN)/aftersales --config deploy/local/site-$(SITE).yaml run booking workorder parts

run-hq: install infra
	$(BIN)/aftersales broker setup --vhost hq --services crm,notify,bi
	$(BIN)/aftersales --config deploy/local/hq.yaml db upgrade crm notify bi
	$(BIN)/aftersales --config deploy/local/hq.yaml run crm notify bi

# Site → headquarters shovels (deploy/local/uplinks.yaml); run after `broker setup` of each vhost.
link: install infra
	$(BIN)/aftersales uplink setup
	$(BIN)/aftersales uplink status

clean:
	rm -rf $(VENV) var .pytest_cache
