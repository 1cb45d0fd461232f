# Two entry points: `make demo` (the main job) and `make test` (every suite).
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# ansible finds this checkout as pvefleet.sdn through a symlinked collections tree.
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)

.PHONY: venv demo test lint code sanity sanity-2.16 units ansible-test-copy docs-lint importer docsite molecule clean

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

# ansible-lint, ansible-test sanity (ansible-core 2.19 and 2.16) and units, the docs, Galaxy's importer
# and the docsite build first, then every pytest suite (unit, emulator, integration, ecosystem, the
# exhaustive fault campaign) in one run on two workers, which keeps both CPUs busy to the end.
test: lint code sanity docs-lint importer docsite sanity-2.16 units molecule
	$(BIN)/python -m pytest -n 2

# ruff (lint and import order) and mypy (types) on the collection's Python, the emulator, the bench
# and the tests; their settings are in pyproject.toml. mypy runs on the collection as Python imports it
# (ansible_collections.pvefleet.sdn, through the symlinked tree) and on the emulator's package.
code: venv
	$(BIN)/ruff check plugins emulator/src emulator/tests emulator/bench bench tests
	cd $(COLLECTIONS) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml ansible_collections/pvefleet/sdn/plugins
	cd $(CURDIR)/emulator/src && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml pvefleet_emulator

# ansible-lint, production profile, from the collection root as Galaxy's importer runs it: every file
# git knows of (.ansible-lint: what is left out, the changelog fragments taken as plain YAML), the
# molecule scenario (extensions/molecule) and the docs' examples included.
lint: venv
	cd $(CURDIR) && PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/ansible-lint --offline --profile production
	rm -rf $(CURDIR)/.ansible

# Plugin and role docs as the Ansible docsite renders them (markup, references, RST), the guide
# (docs/docsite: extra-docs.yml, links.yml, rst/*.rst: RST, labels, toctrees, and its references to
# plugins and options), and the changelog fragments (every change adds one: CONTRIBUTING.md).
# Without ANSIBLE_COLLECTIONS_PATH: the linter lints its own copy of the collection, and a second one
# on that path (the checkout's symlink) would give it wrong file paths (the edit-on-GitHub links).
docs-lint: venv
	cd $(CURDIR) && env -u ANSIBLE_COLLECTIONS_PATH PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/antsibull-docs lint-collection-docs --plugin-docs \
		--check-extra-docs-refs --validate-collection-refs=all --disallow-unknown-collection-refs $(CURDIR)
	cd $(CURDIR) && $(BIN)/antsibull-changelog lint
	cd $(CURDIR) && test ! -f changelogs/changelog.yaml || \
		$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

# The molecule scenario extensions/molecule/default: the role against three emulated remotes (create
# starts the emulator, destroy stops it, also after a failure, and here when interrupted). Run from
# the collection root, where molecule looks for a collection's scenarios; its files in .build/molecule.
molecule: venv
	cd $(CURDIR) && export PATH=$(CURDIR)/$(BIN):$$PATH MOLECULE_EPHEMERAL_DIRECTORY=$(CURDIR)/.build/molecule/default && \
		trap 'molecule destroy --scenario-name default; exit 130' INT TERM && molecule test --scenario-name default

clean:
	rm -rf $(VENV) .build

# A tool's own venv (the importer, the docsite, ansible-core 2.16), made anew when its requirements
# file, the rule's first prerequisite, changes.
define tool_venv
	rm -rf $(@D) && $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install --quiet -r $<
	touch $@
endef

# Galaxy's and Automation Hub's importer, galaxy-importer (its own venv, tests/importer/requirements.txt),
# on the tarball `ansible-galaxy collection build` makes: the metadata, ansible-doc on every plugin and
# role, the role's README, the changelog, ansible-lint (production profile, as the importer runs it,
# without .ansible-lint, which the tarball leaves out). Local mode (tests/importer/galaxy-importer.cfg):
# no ansible-test container, no network. Its WARNINGs do not fail an import; here any WARNING or ERROR
# line fails the target: none is accepted. The log: .build/importer/importer.log.
VENV_IMPORTER := $(CURDIR)/.build/venv-importer
IMPORTER_DIR  := $(CURDIR)/.build/importer
$(VENV_IMPORTER)/.installed: tests/importer/requirements.txt
	$(tool_venv)

importer: $(VENV_IMPORTER)/.installed
	rm -rf $(IMPORTER_DIR) && mkdir -p $(IMPORTER_DIR)/tmp $(IMPORTER_DIR)/ansible-tmp
	$(VENV_IMPORTER)/bin/ansible-galaxy collection build --output-path $(IMPORTER_DIR) $(CURDIR)
	cd $(IMPORTER_DIR) && env -u ANSIBLE_COLLECTIONS_PATH PATH=$(VENV_IMPORTER)/bin:$$PATH \
		GALAXY_IMPORTER_CONFIG=$(CURDIR)/tests/importer/galaxy-importer.cfg \
		GALAXY_IMPORTER_TMP_ROOT_DIR=$(IMPORTER_DIR)/tmp GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=$(IMPORTER_DIR)/ansible-tmp \
		$(VENV_IMPORTER)/bin/python -m galaxy_importer.main pvefleet-sdn-*.tar.gz > importer.log 2>&1; \
		status=$$?; grep -v '^Loading ' importer.log; \
		if [ $$status -ne 0 ] || grep -qE '^(WARNING|ERROR)' importer.log \
			|| ! grep -q '^Importer processing completed successfully' importer.log; then \
			echo "make importer: galaxy-importer failed or warned (.build/importer/importer.log)"; exit 1; fi

# The collection's docsite as the Ansible documentation site builds it: the tarball installed, then
# `antsibull-docs sphinx-init` and the build it sets up (antsibull-docs collection, sphinx-build -W:
# any warning fails), in its own venv (tests/docsite/requirements.txt). Offline: intersphinx is off,
# and tests/docsite/ansible-docsite-labels.rst stands in for the few labels of docs.ansible.com the
# generated pages refer to. A plugin or role whose docs antsibull-docs could not render fails it too.
# The site: .build/docsite/site/build/html.
VENV_DOCSITE := $(CURDIR)/.build/venv-docsite
DOCSITE_DIR  := $(CURDIR)/.build/docsite
$(VENV_DOCSITE)/.installed: tests/docsite/requirements.txt
	$(tool_venv)

docsite: $(VENV_DOCSITE)/.installed
	rm -rf $(DOCSITE_DIR) && mkdir -p $(DOCSITE_DIR)/site/rst
	$(VENV_DOCSITE)/bin/ansible-galaxy collection build --output-path $(DOCSITE_DIR) $(CURDIR)
	cd $(DOCSITE_DIR) && export PATH=$(VENV_DOCSITE)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(DOCSITE_DIR)/collections && \
		ansible-galaxy collection install --offline -p $(DOCSITE_DIR)/collections pvefleet-sdn-*.tar.gz && \
		cd site && antsibull-docs sphinx-init --use-current --dest-dir . pvefleet.sdn && chmod og-w rst && \
		antsibull-docs --config-file antsibull-docs.cfg collection --cleanup everything --use-current \
			--dest-dir rst pvefleet.sdn && \
		cp $(CURDIR)/tests/docsite/ansible-docsite-labels.rst rst/ && \
		! grep -rl 'The errors were:' rst && \
		sphinx-build -M html rst build -c . -W --keep-going -q -D extensions=sphinx.ext.autodoc,sphinx_antsibull_ext

# ansible-test needs the collection at ansible_collections/pvefleet/sdn: a copy of the tracked files,
# shared by sanity, sanity-2.16 and units. Its venvs get pip from the stand-in, not from the internet.
SANITY_ROOT := $(CURDIR)/.build/sanity/ansible_collections/pvefleet/sdn
ansible-test-copy: venv
	rm -rf $(CURDIR)/.build/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -z | xargs -0 -I{} cp --parents {} $(SANITY_ROOT)/
	mkdir -p $(HOME)/.ansible/test/cache
	cp tests/sanity/get_pip_standin.py $(HOME)/.ansible/test/cache/get_pip_24_2.py
	cp tests/sanity/get_pip_standin.py $(HOME)/.ansible/test/cache/get_pip_23_1_2.py
	cd $(SANITY_ROOT) && git init -q && git add -A && \
		git -c user.name=sanity -c user.email=sanity@invalid commit -qm sanity

sanity: ansible-test-copy
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test sanity --python 3.11

# The unit tests (tests/unit) as ansible-test runs them, in a venv of its own built from
# tests/unit/requirements.txt and constraints.txt.
units: ansible-test-copy
	cd $(SANITY_ROOT) && $(CURDIR)/$(BIN)/ansible-test units --python 3.11 --venv

# Sanity with the oldest ansible-core meta/runtime.yml supports (requires_ansible >=2.16.0).
VENV_2_16 := $(CURDIR)/.build/venv-2.16
$(VENV_2_16)/.installed: tests/sanity/requirements-2.16.txt
	$(tool_venv)

sanity-2.16: ansible-test-copy $(VENV_2_16)/.installed
	cd $(SANITY_ROOT) && $(VENV_2_16)/bin/ansible-test sanity --python 3.11

# The fleet benchmark (bench/run.py; not part of `make test`): every method at N = 1, 10, 100,
# 1000 remotes; writes bench/results/. BENCH_ARGS="--sizes 1,10" for a short run.
.PHONY: bench
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): bench/requirements.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: venv $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
