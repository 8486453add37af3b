# mlkube's developer entry points. `make setup` once on a fresh machine, then `make test`.
PYTHON ?= python3
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test unit lint format crds images up down demo help

## setup: install everything every test tier needs (Debian packages, Python packages, Go-built binaries)
setup:
	bash hack/setup.sh

## test: run every tier (unit, integration, e2e) in one pytest session
test:
	$(PYTHON) -m pytest

## unit: only the tests that need no services
unit:
	$(PYTHON) -m pytest -m unit

## lint: ruff (lint + format check) and mypy --strict over both packages
lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

## crds: regenerate crds/ (and the chart's copy) from the resource models in sdk/mlkube/api
crds:
	$(PYTHON) -m mlkube.api.crd crds charts/mlkube/crds

## images: build mlkube's OCI images with podman into ~/.cache/mlkube/images (REGISTRY=host/path PUSH=1: push them)
images:
	$(PYTHON) images/build.py $(if $(REGISTRY),--registry $(REGISTRY)) $(if $(filter 1 yes true,$(PUSH)),--push)

## up: start the local stack (etcd, kube-apiserver, kube-controller-manager, MinIO); writes .local/env
up:
	$(PYTHON) -m e2e.cluster up

## down: stop every process `make up` started and remove .local/
down:
	$(PYTHON) -m e2e.cluster down

## demo: the main job - make up, then the quickstart example end to end
demo:
	bash hack/demo.sh

help:
	@grep -E '^## ' Makefile | sed 's/^## //'
