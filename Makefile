# Every target assumes `npm ci` (or `make setup`) has been run.
NODE_TEST = node --import tsx --test

.PHONY: setup build typecheck test test-unit example bench clean install uninstall

setup:
	npm ci
	npm run build

build:
	npm run build

typecheck:
	npx tsc -p tsconfig.json --noEmit

# The whole suite: unit tests of the pure core, then end-to-end tests with real
# rsync, a loopback sshd and an SMTP receiver (started by the tests themselves).
# The bundle is built first: the end-to-end tests run the built bin (what users run), which
# starts ~0.5 s of CPU faster than the TypeScript through tsx (test/support/osync.ts binArgv).
test: typecheck
	node scripts/build.mjs
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

# ---------------------------------------------------------------------------
# Install on a server, from a checkout where `npm ci && npm run build` has been run
# (as root: `make install`; packagers: `make install DESTDIR=/tmp/stage PREFIX=/usr`).
# Only built files are installed (dist/: the bundled bins), no TypeScript toolchain.
#
#   $(PREFIX)/lib/osync-ts/                  the bundles (dist/)
#   $(PREFIX)/bin/osync, osync-batch         launchers: the bundles run by $(NODE)
#   $(PREFIX)/bin/osync-ssh-filter           forced command for authorized_keys
#   $(SYSCONFDIR)/osync/sync.conf.example    commented config (conf/sample.conf)
#   $(SYSCONFDIR)/logrotate.d/osync-ts       rotation of /var/log/osync*.log
#   $(SYSTEMDDIR)/system/, $(SYSTEMDDIR)/user/   daemon, target helper, run + timer units
#
# NODE is the node binary the launchers run, recorded as an absolute path now, so that
# cron and systemd (whose PATH may not hold it) find it.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
SYSTEMDDIR ?= $(PREFIX)/lib/systemd
NODE ?= $(shell command -v node)
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/osync-ts
LAUNCHERS = osync osync-batch
SYSTEM_UNITS = $(notdir $(wildcard packaging/systemd/system/*))
USER_UNITS = $(notdir $(wildcard packaging/systemd/user/*))
UNIT_SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

install:
	@test -f dist/osync.mjs -a -f dist/osync-batch.mjs -a -f dist/osync-monitor.mjs || { echo 'make install: run `npm ci && npm run build` first (dist/ is what gets installed).' >&2; exit 1; }
	@case "$(NODE)" in /*) ;; *) echo 'make install: node not found; give its absolute path: make install NODE=/path/to/node' >&2; exit 1 ;; esac
	@"$(NODE)" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo 'make install: $(NODE) is older than Node.js 20.' >&2; exit 1; }
	rm -rf "$(DESTDIR)$(LIBDIR)"
	mkdir -p "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SYSCONFDIR)/osync" "$(DESTDIR)$(SYSCONFDIR)/logrotate.d" \
		"$(DESTDIR)$(SYSTEMDDIR)/system" "$(DESTDIR)$(SYSTEMDDIR)/user"
	cp -R dist/. "$(DESTDIR)$(LIBDIR)/"
	chmod -R u=rwX,go=rX "$(DESTDIR)$(LIBDIR)"
	for bin in $(LAUNCHERS); do \
		sed -e "s|@NAME@|$$bin|g" -e "s|@ENTRY@|$$bin.mjs|g" -e 's|@NODE@|$(NODE)|g' packaging/launcher.in > "$(DESTDIR)$(BINDIR)/$$bin" && \
		chmod 755 "$(DESTDIR)$(BINDIR)/$$bin" || exit 1; \
	done
	cp packaging/osync-ssh-filter "$(DESTDIR)$(BINDIR)/osync-ssh-filter"
	chmod 755 "$(DESTDIR)$(BINDIR)/osync-ssh-filter"
	cp conf/sample.conf "$(DESTDIR)$(SYSCONFDIR)/osync/sync.conf.example"
	chmod 644 "$(DESTDIR)$(SYSCONFDIR)/osync/sync.conf.example"
	cp packaging/logrotate "$(DESTDIR)$(SYSCONFDIR)/logrotate.d/osync-ts"
	chmod 644 "$(DESTDIR)$(SYSCONFDIR)/logrotate.d/osync-ts"
	for u in $(SYSTEM_UNITS); do $(UNIT_SUBST) "packaging/systemd/system/$$u" > "$(DESTDIR)$(SYSTEMDDIR)/system/$$u" || exit 1; done
	for u in $(USER_UNITS); do $(UNIT_SUBST) "packaging/systemd/user/$$u" > "$(DESTDIR)$(SYSTEMDDIR)/user/$$u" || exit 1; done
	cd "$(DESTDIR)$(SYSTEMDDIR)" && chmod 644 $(addprefix system/,$(SYSTEM_UNITS)) $(addprefix user/,$(USER_UNITS))
	@echo 'Installed. Next: a conf in $(SYSCONFDIR)/osync/ (see sync.conf.example), a dry run, then'
	@echo '  systemctl daemon-reload && systemctl enable --now osync-ts@<name>.conf   (daemon), or'
	@echo '  systemctl enable --now osync-ts-run@<name>.conf.timer                    (every 15 min), or a cron line.'

# Removes exactly what `make install` put in place (with the same PREFIX, DESTDIR...);
# your confs in $(SYSCONFDIR)/osync stay (the directory goes only if it is empty).
uninstall:
	rm -rf "$(DESTDIR)$(LIBDIR)"
	rm -f $(foreach b,$(LAUNCHERS) osync-ssh-filter,"$(DESTDIR)$(BINDIR)/$(b)")
	rm -f "$(DESTDIR)$(SYSCONFDIR)/osync/sync.conf.example" "$(DESTDIR)$(SYSCONFDIR)/logrotate.d/osync-ts"
	rm -f $(foreach u,$(SYSTEM_UNITS),"$(DESTDIR)$(SYSTEMDDIR)/system/$(u)") $(foreach u,$(USER_UNITS),"$(DESTDIR)$(SYSTEMDDIR)/user/$(u)")
	-rmdir "$(DESTDIR)$(SYSCONFDIR)/osync" 2>/dev/null
