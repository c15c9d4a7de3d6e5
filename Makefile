# Executable docs: `make run` runs feedbridge on the built-in defaults, `make test` runs every test.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv run once check test lint bench clean image-check image-test

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/feedbridge run

once: $(STAMP)
	$(VENV)/bin/feedbridge once

check: $(STAMP)
	$(VENV)/bin/feedbridge --config config.example.toml check

lint: $(STAMP)  # ruff, mypy --strict, the import layers and no circles (pyproject.toml)
	$(VENV)/bin/ruff check feedbridge tests
	$(VENV)/bin/mypy feedbridge
	$(VENV)/bin/lint-imports --no-cache

test: $(STAMP)
	$(VENV)/bin/pytest -q -n 3 --dist worksteal

image-check: $(STAMP)  # hadolint, compose files, the image's install steps in a venv
	bash scripts/check-image.sh

image-test:  # build each image target and run it (docker, else buildah + podman as root)
	bash scripts/test-images.sh $(TARGETS)

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
