# Every target assumes `npm ci` (or `make setup`) has been run.
NODE_TEST = node --import tsx --test

.PHONY: setup build typecheck test test-unit example bench clean

setup:
	npm ci
	npm run build

build:
	npm run build

typecheck:
	npx tsc -p tsconfig.json --noEmit

# The whole suite: unit tests of the pure core, then end-to-end tests with real
# rsync, a loopback sshd and an SMTP receiver (started by the tests themselves).
test: typecheck
	$(NODE_TEST) test/*.test.ts

test-unit:
	$(NODE_TEST) test/plan*.test.ts test/parse*.test.ts test/config*.test.ts

# Sync the bundled example (conf/example.env) once; creates example/ beside this file.
example:
	npx tsx scripts/make-example.ts
	npx tsx scripts/osync.ts conf/example.env --summary

bench:
	npx tsx scripts/bench.ts

clean:
	rm -rf dist example bench-out
