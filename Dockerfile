# syntax=docker/dockerfile:1
# Production image: gunicorn serving the portal, static files by whitenoise. From the same image run
# the worker (`python -m portal.run worker`), the scheduler (`python -m portal.run scheduler`) and, once per
# release, `python -m portal.run migrate`. portal/run.py defines these commands; compose.yaml and the
# production-mode test (tests/production/) run exactly them.

# The base: Python 3.13 with venv. python:3.13-slim for everyone; where no registry of base images is reachable,
# one made from Debian's packages (`make image` builds it with debootstrap and passes it as BASE).
ARG BASE=python:3.13-slim

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
RUN python3 -m venv /opt/venv
COPY requirements.txt .
# Where the package index is reached only through the machine's CA bundle, it comes in as the build secret "ca"
# (never in a layer or the image); without it pip uses the base's own certificates.
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export SSL_CERT_FILE=/run/secrets/ca PIP_CERT=/run/secrets/ca; fi; \
    /opt/venv/bin/pip wheel --wheel-dir /wheels -r requirements.txt
# The Korean catalogue, compiled here so the runtime image needs no gettext.
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY locale ./locale
RUN msgfmt --check-format -o locale/ko/LC_MESSAGES/django.mo locale/ko/LC_MESSAGES/django.po

FROM ${BASE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    DEBUG=false PORT=8000 PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 portal && useradd --system --uid 10001 --gid portal --home /app portal
WORKDIR /app
COPY --from=build /wheels /wheels
COPY requirements.txt .
RUN python3 -m venv /opt/venv && pip install --no-index --find-links=/wheels -r requirements.txt && rm -rf /wheels
COPY --chown=portal:portal manage.py ./
COPY --chown=portal:portal portal ./portal
COPY --chown=portal:portal templates ./templates
COPY --chown=portal:portal static ./static
COPY --chown=portal:portal --from=build /build/locale ./locale
# collectstatic needs settings that load; these build-time values are never used at run time.
RUN SECRET_KEY=collectstatic-only SCP_SECRET_KEY=collectstatic-only EMAIL_BACKEND=none \
    python -m portal.run collectstatic && chown -R portal:portal /app/staticfiles
USER portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz', timeout=4)"
CMD ["python", "-m", "portal.run", "web"]
