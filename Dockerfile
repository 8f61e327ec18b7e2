FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY callwatch ./callwatch
COPY policy ./policy
COPY exporter ./exporter
COPY receiver ./receiver
COPY simulator ./simulator
RUN pip install --no-cache-dir . && useradd --system --uid 10001 callwatch \
    && mkdir -p /var/lib/callwatch && chown callwatch /var/lib/callwatch
USER callwatch
EXPOSE 9120
CMD ["callwatch", "run", "--listen", "0.0.0.0:9120"]
