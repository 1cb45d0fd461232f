# Two entry points: `make demo` (the main job) and `make test` (every suite).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# ansible finds this checkout as pvefleet.sdn through a symlinked collections tree.
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)

.PHONY: venv demo test test-unit test-emulator test-integration clean

venv: $(STAMP) $(COLLECTIONS)/ansible_collections/pvefleet/sdn

$(STAMP): requirements.txt requirements-dev.txt constraints.txt emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e ./emulator
	touch $@

$(COLLECTIONS)/ansible_collections/pvefleet/sdn:
	mkdir -p $(COLLECTIONS)/ansible_collections/pvefleet
	ln -sfn $(CURDIR) $@

demo: venv
	$(BIN)/python demo/run_demo.py

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .build
