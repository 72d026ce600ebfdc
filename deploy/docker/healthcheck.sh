#!/bin/bash
# Container HEALTHCHECK without curl (bookworm-slim has none): bash's /dev/tcp opens a
# TCP connection to the address of TRACECOL_HTTP_LISTEN, sends GET /healthz and succeeds
# on a 200 status line. bash, coreutils and grep are Essential in Debian, so in the slim image.
set -u
listen="${1:-${TRACECOL_HTTP_LISTEN:-127.0.0.1:4318}}"
case "$listen" in
  off|unix:*) echo "tracecol-healthcheck: needs a TCP --http-listen, not '$listen'" >&2; exit 1 ;;
esac
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"; host="${host%]}"
case "$host" in ""|0.0.0.0) host=127.0.0.1 ;; ::) host=::1 ;; esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 3 status <&3 || { echo "tracecol-healthcheck: no answer from $host:$port" >&2; exit 1; }
exec 3<&-
case "$status" in
  "HTTP/1."?" 200"*) exit 0 ;;
  *) echo "tracecol-healthcheck: $host:$port/healthz answered: ${status%$'\r'}" >&2; exit 1 ;;
esac
