# syntax=docker/dockerfile:1
# The docqet-monitor image: the exporter by default (`docqet-monitor exporter serve` on port 19842), any
# docqet-monitor command otherwise. Build and run: docs in README "Deploying".
#
#   docker build -t docqet-monitor .                                   # the exporter image
#   docker build --build-arg IMAGE_EXTRAS=demo -t docqet-monitor:demo .  # plus the demo (compose.yaml)
#
# Build arguments: BASE_IMAGE (any Debian-based image with python3 >= 3.11 and its venv module; e.g. one made
# by debootstrap where no registry is reachable), IMAGE_EXTRAS (extras of the package, comma-separated),
# VERSION and SOURCE_URL (labels). Behind a TLS-intercepting proxy give pip the proxy's CA bundle as a build
# secret, which never lands in a layer: --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt
ARG BASE_IMAGE=python:3.12-slim

# --- stage 1: wheels of docqet-monitor and every dependency -------------------------------------------------
FROM ${BASE_IMAGE} AS wheels
ARG IMAGE_EXTRAS=""
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=secret,id=ca-bundle \
    if [ -f /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip wheel --quiet --disable-pip-version-check --wheel-dir /wheels \
        ".${IMAGE_EXTRAS:+[$IMAGE_EXTRAS]}" \
    && cd /wheels && sha256sum *.whl > /wheels.sha256

# --- stage 2: the runtime: a virtualenv installed from those wheels only, run as uid 10001 -----------------
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG IMAGE_EXTRAS=""
ARG VERSION=0.2.0
ARG SOURCE_URL=https://github.com/docqet/docqet-monitor
LABEL org.opencontainers.image.title="docqet-monitor" \
      org.opencontainers.image.description="Prometheus exporter, dashboards and alerts as code for Docqet's AWS platform" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.url="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Docqet" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
RUN groupadd --system --gid 10001 docqet-monitor \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/docqet-monitor --no-create-home \
        --shell /usr/sbin/nologin docqet-monitor \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/docqet-monitor /var/lib/docqet-monitor/.cache
# what the image is installed from; copied first so that new wheels make a new install layer (podman's cache
# does not look into a mounted stage)
COPY --from=wheels /wheels.sha256 /usr/share/doc/docqet-monitor/wheels.sha256
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    python3 -m venv /opt/docqet-monitor \
    && /opt/docqet-monitor/bin/pip install --quiet --disable-pip-version-check --no-cache-dir --no-index \
        --find-links /wheels "docqet-monitor${IMAGE_EXTRAS:+[$IMAGE_EXTRAS]}"
# The example environments (`--env staging|production`); a config of your own: --config or $DOCQET_MONITOR_CONFIG.
COPY monitoring/environments/ /var/lib/docqet-monitor/monitoring/environments/
ENV PATH=/opt/docqet-monitor/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# the working directory holds the relative default cost cache (.cache/docqet-monitor/cost.json), the one path
# the exporter writes: a volume, so that the root filesystem can be read-only (ECS readonlyRootFilesystem; ECS
# copies a VOLUME path, with its owner, into the bind mount of the same containerPath)
WORKDIR /var/lib/docqet-monitor
VOLUME ["/var/lib/docqet-monitor/.cache"]
USER 10001:10001
EXPOSE 19842
# liveness: /healthz of $DOCQET_MONITOR_HEALTH_URL (default http://127.0.0.1:19842/healthz; set it for another
# port or HTTPS), with the image's own Python and only its standard library (no curl or wget in the image)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "docqet_monitor.exporters.health"]
ENTRYPOINT ["docqet-monitor"]
CMD ["exporter", "serve"]
