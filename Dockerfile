# The callwatch image: `callwatch run` (exporter and receiver on port 9120) as user 10001,
# starting with the example policy (deploy/policy.yaml, at /etc/callwatch/policy.yaml: mount
# yours over it, as docker-compose.yml does) and its SQLite store in the volume
# /var/lib/callwatch. Secrets come as files or variables at run time, never from the image;
# with none, every endpoint but /healthz, /readyz and /metrics answers 401 (docs/receiver.md).
#
#   docker build --build-arg SOURCE=<repository URL> --build-arg REVISION=$(git rev-parse HEAD) .
FROM python:3.11-slim

# the package's version (pyproject.toml; tests/test_dockerfile.py keeps them equal)
ARG VERSION=0.1.0
ARG SOURCE=""
ARG REVISION=""
LABEL org.opencontainers.image.title="callwatch" \
      org.opencontainers.image.description="Prometheus/Alertmanager sidecar for voice calls on Twilio and Telnyx: exporter, generated alerting config, incident receiver" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}"

WORKDIR /app
COPY pyproject.toml README.md ./
COPY callwatch ./callwatch
COPY policy ./policy
COPY exporter ./exporter
COPY receiver ./receiver
COPY simulator ./simulator
# a plain install, no extra: `callwatch run` needs none (render and demo are for a workstation)
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 callwatch \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/callwatch --no-create-home \
       callwatch \
    && mkdir -p /var/lib/callwatch && chown 10001:10001 /var/lib/callwatch
COPY deploy/policy.yaml /etc/callwatch/policy.yaml

ENV CALLWATCH_POLICY=/etc/callwatch/policy.yaml \
    CALLWATCH_STORE_URL=sqlite:////var/lib/callwatch/callwatch.db
# owned by 10001 before it becomes a volume: a new volume starts with that ownership
VOLUME ["/var/lib/callwatch"]
WORKDIR /var/lib/callwatch
USER 10001:10001
EXPOSE 9120
CMD ["callwatch", "run", "--listen", "0.0.0.0:9120", "--policy", "/etc/callwatch/policy.yaml"]
