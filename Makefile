# The two commands: `make main` (set up + run the main job), `make test` (set up + run the tests).
.PHONY: setup main test bench

setup:
	bash scripts/setup.sh

main: setup
	bash scripts/main.sh

test: setup
	bash scripts/test.sh

bench: setup
	. scripts/env.sh && llmcompiler bench --suite quick --json bench/results.json --plot docs/img
