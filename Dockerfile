# One image for every service of the platform: a container runs
#   aftersales --config /etc/aftersales/<file>.yaml run <service> [--migrate]
# Settings come from the mounted YAML file and AFTERSALES_* environment variables; secrets
# (auth_secret, database and broker passwords, crm keys) are given at run time, never built in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/aftersales

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); \
print('\n'.join(d['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY chassis chassis
COPY contracts contracts
COPY simulator simulator
COPY services services
# A plain install: the wheel carries each service's migrations, the broker policies and the
# dashboard's static files as package data; the sources are removed afterwards.
RUN pip install --no-deps . \
    && rm -rf chassis contracts simulator services build \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/aftersales aftersales \
    && mkdir -p /var/lib/aftersales/media /var/lib/aftersales/notify \
    && chown -R aftersales:aftersales /var/lib/aftersales

# Photos and signatures (by content hash) and development message sinks live here: set
# `media_dir: /var/lib/aftersales/media` and `http_host: 0.0.0.0` in the mounted config.
VOLUME ["/var/lib/aftersales"]
USER 10001:10001
ENTRYPOINT ["aftersales"]
CMD ["--help"]
