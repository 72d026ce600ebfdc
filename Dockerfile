# syntax=docker/dockerfile:1
# tracecol as a sidecar image.
#   docker build -t tracecol .
#   docker run --rm -p 127.0.0.1:4318:4318 -v tracecol-sock:/run/tracecol -v tracecol-data:/var/lib/tracecol tracecol
# docs/deploy.md explains every choice below; tests/integration/deploy/ checks this file
# against the Makefile and README (same package list, same build command) and runs the
# ENTRYPOINT/CMD/ENV below on the host.

# ---- build: the same package list and the same preset commands as `make build` ----------
FROM debian:bookworm AS build
# Tools only the tests, the fuzz preset, the benches or the browser test use; everything else in
# the list is installed, exactly as `make deps` reads it (tests/integration/deploy checks).
ARG TEST_ONLY_PACKAGES="socat jq python3-yaml chromium clang-14 libclang-rt-14-dev wrk nginx-light protobuf-compiler openssl"
COPY deploy/debian-packages.txt /tmp/debian-packages.txt
RUN apt-get update \
 && printf '%s\n' $TEST_ONLY_PACKAGES > /tmp/test-only.txt \
 && grep -v '^\s*#' /tmp/debian-packages.txt | grep -v '^\s*$' | grep -vxF -f /tmp/test-only.txt > /tmp/build-packages.txt \
 && xargs env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends < /tmp/build-packages.txt \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset release \
 && cmake --build --preset release --target tracecol \
 && strip -o /tmp/tracecol build/release/daemon/tracecol

# ---- runtime: bookworm-slim + the shared libraries `ldd tracecol` lists that are not
# Priority: required (tests/integration/deploy checks), CA certificates for https export --
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libstdc++6 zlib1g libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tracecol \
 && useradd --system --uid 10001 --gid tracecol --home-dir /var/lib/tracecol --no-create-home \
      --shell /usr/sbin/nologin tracecol \
 && install -d -o tracecol -g tracecol -m 0750 /run/tracecol \
 && install -d -o tracecol -g tracecol -m 0750 /var/lib/tracecol
COPY --from=build /tmp/tracecol /usr/local/bin/tracecol
COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/tracecol-healthcheck

# Container defaults; every one can be overridden with -e or a flag after the image name.
# HTTP listens on all interfaces so the port can be published: the API has no auth and
# serves prompts and outputs, so publish it on 127.0.0.1 or a private network only.
ENV TRACECOL_SOCKET=/run/tracecol/tracecol.sock \
    TRACECOL_SOCKET_MODE=0660 \
    TRACECOL_HTTP_LISTEN=0.0.0.0:4318 \
    TRACECOL_EXPORT_FILE=/var/lib/tracecol/traces.ndjson \
    TRACECOL_LOG_LEVEL=info

USER tracecol:tracecol
VOLUME ["/run/tracecol", "/var/lib/tracecol"]
EXPOSE 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/tracecol-healthcheck"]
# SIGTERM as PID 1: exec form, so tracecol itself is PID 1 and receives `docker stop`'s
# SIGTERM; it installs its own SIGTERM/SIGINT handlers (a PID 1 without a handler would
# ignore them), drains and exits 0. It starts no child processes, so nothing to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tracecol"]
CMD []
