# `make run` starts the portal with its simulator and worker; `make test` runs every check.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
IDP_STAMP := tests/idp/node_modules/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
CHROMIUM ?= /usr/bin/chromium

.PHONY: run token test lint format pytest pytest-postgres chromium rsyslog clean image test-image
MO := locale/ko/LC_MESSAGES/django.mo

$(STAMP): requirements.txt requirements-test.txt
	@test -x $(PYTHON) || python3.13 -m venv $(VENV) || python -m venv $(VENV)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Python 3.12+ needed, found " + sys.version'
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-test.txt
	@touch $(STAMP)

# The tests' OpenID Connect provider (npm's oidc-provider, pinned by tests/idp/package-lock.json).
$(IDP_STAMP): tests/idp/package.json tests/idp/package-lock.json
	cd tests/idp && npm ci --no-audit --no-fund --loglevel=error
	@touch $(IDP_STAMP)

# The Korean catalogue, compiled (GNU gettext's msgfmt; Debian's gettext package when it is missing).
$(MO): locale/ko/LC_MESSAGES/django.po
	@command -v msgfmt >/dev/null || { echo "Installing Debian's gettext to compile the translations"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; }
	msgfmt --check-format -o $@ $<

# Development defaults: debug pages on (secrets masked), the simulator's demo keys. `make run SSO=1` also starts
# the bundled test IdP (tests/idp) on 127.0.0.1:8090 with the demo SSO users, and maps their groups to the teams.
# The audit log is checkpointed every minute and cosigned by a development witness (.audit-witness.key).
ifdef SSO
run: export OIDC_ISSUER ?= http://127.0.0.1:8090
run: export OIDC_CLIENT_ID ?= portal
run: export OIDC_CLIENT_SECRET ?= dev-idp-client-secret-not-for-production
RUN_NEEDS := $(IDP_STAMP)
RUN_FLAGS := --idp
endif
run: export DEBUG ?= true
run: export AUDIT_SIGNING_KEY_FILE ?= .audit-signing.key
run: export AUDIT_CHECKPOINT_INTERVAL ?= 60
run: $(STAMP) $(MO) $(RUN_NEEDS)
	@test -f .env || printf '%s\n' "# Written by make run: the development defaults, so that manage.py works from this checkout" \
	  "# (.venv/bin/python manage.py ...). Delete it to run with the production defaults (DEBUG off)." "DEBUG=true" \
	  "AUDIT_SIGNING_KEY_FILE=.audit-signing.key" > .env
	$(PYTHON) manage.py migrate --noinput
	@$(PYTHON) manage.py audit_checkpoint --new-key $(AUDIT_SIGNING_KEY_FILE) > /dev/null
	$(PYTHON) manage.py seed_demo
	$(PYTHON) manage.py run_portal --witness .audit-witness.key $(RUN_FLAGS)

# A personal access token for the JSON API, printed once: make -s token FOR=web-requester SCOPES=read,request
token: export DEBUG ?= true
token: $(STAMP)
	@test -n "$(FOR)" || { echo "Say whose token: make -s token FOR=<user name> SCOPES=read,request" >&2; exit 2; }
	@$(PYTHON) manage.py api_token create "$(FOR)" --scopes "$(or $(SCOPES),read)" --name "$(or $(NAME),make token)"

# Debian's rsyslog with its TLS driver: the real syslog receiver of the SIEM stream's tests.
rsyslog:
	@test -x /usr/sbin/rsyslogd && ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || { \
	  echo "Installing Debian's rsyslog and rsyslog-gnutls for the SIEM stream's tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsyslog rsyslog-gnutls >/dev/null; }

chromium:
	@test -x $(CHROMIUM) || { echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -d /usr/share/fonts/truetype/nanum || { echo "Installing Debian's Nanum fonts (Korean pages in Chromium)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	DEBUG=true $(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

pytest: $(STAMP) $(MO) chromium rsyslog $(IDP_STAMP)
	$(PYTHON) -m pytest

# The database-sensitive tests again on PostgreSQL. In CI PostgreSQL must answer; locally it is optional.
pytest-postgres: $(STAMP) $(MO) rsyslog $(IDP_STAMP)
	@if $(PYTHON) -c "import psycopg; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  DATABASE_URL=$(PG_URL) $(PYTHON) -m pytest -m postgres; \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "PostgreSQL does not answer at $(PG_URL), and CI needs it"; exit 1; \
	else \
	  echo "PostgreSQL does not answer at $(PG_URL): skipping the PostgreSQL pass (CI runs it)"; \
	fi

test: lint pytest pytest-postgres

# The production image, built and started here: Debian's podman with runc. No registry of base images is reached
# from these machines, so the base is made from Debian's packages (debootstrap: trixie, Python 3.13) and passed as
# BASE; everyone else builds FROM python:3.13-slim. pip reaches the package index with the machine's CA bundle,
# given as a build secret (never in a layer). `make test-image` then runs tests/production/test_image.py.
IMAGE ?= scp-interface-portal
BASE_IMAGE := localhost/scp-portal-base:trixie
PODMAN := podman --runtime runc
LIMITS := --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
image:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null || { \
	  echo "Installing Debian's podman, runc and debootstrap"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; }
	@$(PODMAN) image exists $(BASE_IMAGE) || { echo "Making the base image from Debian's packages"; \
	  root=$$(mktemp -d) && debootstrap --variant=minbase --include=python3,python3-venv trixie $$root >/dev/null && \
	  tar -C $$root -c . | $(PODMAN) import - $(BASE_IMAGE) >/dev/null && rm -rf $$root; }
	$(PODMAN) build --build-arg BASE=$(BASE_IMAGE) --secret id=ca,src=$(CA_BUNDLE) --network host $(LIMITS) -t $(IMAGE) .

test-image: image $(STAMP)
	PORTAL_IMAGE=$(IMAGE) PG_URL=$(PG_URL) $(PYTHON) -m pytest -m image tests/production/test_image.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache staticfiles .test-db.sqlite3* tests/idp/node_modules $(MO)
