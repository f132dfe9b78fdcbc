# The two commands a newcomer needs: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: install test demo bench lint infra run-site clean

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

bench: install infra
	$(BIN)/python bench/backbone.py $(ARGS)
	$(BIN)/python bench/site_api.py $(ARGS)

lint: install
	$(BIN)/ruff check .

# One dealer site (D001) or headquarters as plain processes on the local broker and database.
SITE ?= D001
run-site: install infra
	$(BIN)/aftersales broker setup --vhost site-$(SITE) --services booking,workorder,parts
	$(BIN)/aftersales --config deploy/local/site-$(SITE).yaml db upgrade booking workorder parts
	$(BIN)/aftersales --config deploy/local/site-$(SITE).yaml run booking workorder parts

clean:
	rm -rf $(VENV) var .pytest_cache
