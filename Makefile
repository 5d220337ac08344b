# The two commands: `make main` (set up + run the main job), `make test` (set up + run the tests).
.PHONY: setup main test test-newest lock bench

setup:
	bash scripts/setup.sh

main: setup
	bash scripts/main.sh

# the whole suite on the locked versions, then the lowest versions setup.cfg allows (what CI runs)
test: setup
	bash scripts/test.sh
	bash scripts/test-versions.sh lowest

# the newest releases within setup.cfg's ranges (before refreshing the lock; not part of CI)
test-newest: setup
	bash scripts/test-versions.sh newest

# refresh requirements/lock.txt and requirements/lowest.txt from setup.cfg's ranges
lock: setup
	bash scripts/lock.sh

# the benchmark suite of benchmarks/ (not installed: runs from this checkout); results.json is not committed
bench: setup
	. scripts/env.sh && llmcompiler bench --suite quick --json benchmarks/results.json --plot docs/img
