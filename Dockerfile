# syntax=docker/dockerfile:1
# cliproxy in a container: docs/deploy.md#containers says how to build, run and sign in.
#
#   docker build -t cliproxy --build-arg PLUGINS="claude gemini codex" .
#   docker run -p 8317:8317 -v "$PWD/config.yaml:/etc/cliproxy/config.yaml:ro" cliproxy
#
# Build arguments:
#   PLUGINS  the provider plugins to install: names of plugins/<name> (and echo), space-separated
#   EXTRAS   the core's extras: redis (shared state), speed (uvloop), metrics, otel, socks
#   PYTHON   the Python version of both stages
#
# OAuth sign-in callback ports (only while `cliproxy login` runs, on the machine whose
# browser signs in): claude 54545, codex 1455 (else 1457), gemini 8085. In a container,
# sign in with `--no-browser` and paste the address the browser lands on, or sign in
# elsewhere and mount auth-dir (docs/deploy.md#signing-in).

ARG PYTHON=3.12

FROM python:${PYTHON}-slim AS build
ARG PLUGINS="claude gemini openai codex"
ARG EXTRAS="redis,speed,metrics"
RUN pip install --no-cache-dir uv
WORKDIR /src
COPY . .
# The same script CI runs into a clean venv (tests/packaging/test_container.py).
RUN python3 .ci/install-wheels /opt/cliproxy --plugins "$PLUGINS" --extras "$EXTRAS" --python /usr/local/bin/python3

FROM python:${PYTHON}-slim
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/cliproxy cliproxy \
    && mkdir -p /etc/cliproxy /data \
    && chown cliproxy:cliproxy /data
COPY --from=build /opt/cliproxy /opt/cliproxy
ENV PATH=/opt/cliproxy/bin:$PATH \
    CLIPROXY_CONFIG=/etc/cliproxy/config.yaml \
    PYTHONUNBUFFERED=1
USER cliproxy
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8317
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; url = os.environ.get('CLIPROXY_HEALTHCHECK_URL', 'http://127.0.0.1:8317/healthz'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["cliproxy", "serve"]
CMD ["--host", "0.0.0.0"]
