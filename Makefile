# The two commands of the README. Both set up .venv first (idempotent).
MODEL ?= SmolLM2-135M-Instruct
PYTEST_ARGS ?=

.PHONY: setup serve test

setup:
	./scripts/setup.sh

serve: setup
	.venv/bin/icegrt serve --model $(MODEL)

test: setup
	.venv/bin/python -m pytest $(PYTEST_ARGS)
