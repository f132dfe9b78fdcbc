# One image for every service of the platform: a container runs
#   aftersales --config /etc/aftersales/<file>.yaml run <service> [--migrate]
# Settings come from the mounted YAML file and AFTERSALES_* environment variables; secrets
# (each service's own keys, read from files a secret store mounts as `<name>_file`, database
# and broker passwords) are given at run time, per stack, never built in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/aftersales

# Dependencies first, so a code change does not reinstall them: exactly the runtime lock's
# versions, each checked against its hash (`make lock` writes it from pyproject.toml's ranges).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock \
    && rm requirements.lock

COPY pyproject.toml ./
COPY chassis chassis
COPY contracts contracts
COPY simulator simulator
COPY services services
# A plain install: the wheel carries each service's migrations, the broker policies and the
# dashboard's static files as package data; the sources are removed afterwards. It builds with
# the locked setuptools rather than an unpinned one fetched for an isolated build.
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf chassis contracts simulator services build *.egg-info \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/aftersales aftersales \
    && mkdir -p /var/lib/aftersales/media /var/lib/aftersales/notify \
    && chown -R aftersales:aftersales /var/lib/aftersales

# Photos and signatures (by content hash) and development message sinks live here: set
# `media_dir: /var/lib/aftersales/media` and `http_host: 0.0.0.0` in the mounted config.
VOLUME ["/var/lib/aftersales"]
USER 10001:10001
ENTRYPOINT ["aftersales"]
CMD ["--help"]
