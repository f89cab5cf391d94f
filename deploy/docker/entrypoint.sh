#!/bin/sh
# The entrypoint of a Tasdir service image (deploy/docker/Dockerfile): one process of the
# service $TASDIR_SERVICE, as `python -m <service> api|consumer|relay|migrate`.
#
#   api        serves HTTP on 0.0.0.0:$TASDIR_PORT (8000): the API, /healthz, /readyz, /metrics
#   consumer   consumes the service's queue; serves /metrics on 0.0.0.0:$TASDIR_PORT
#   relay      publishes the outbox; serves /metrics on 0.0.0.0:$TASDIR_PORT
#   migrate    creates the service's database if it is missing and migrates it, then exits
#   healthcheck [PATH]   exits 0 if GET http://127.0.0.1:$TASDIR_PORT/PATH succeeds (no 4xx/5xx)
#                        (PATH: /healthz for the API, /metrics for a consumer or a relay)
#
# Extra arguments go to the process. Anything else runs as a command (`sh`, `python`…).
set -eu

service="${TASDIR_SERVICE:?TASDIR_SERVICE is not set (the image sets it at build time)}"
port="${TASDIR_PORT:-8000}"
host="${TASDIR_HOST:-0.0.0.0}"
process="${1:-api}"
[ "$#" -gt 0 ] && shift

case "$process" in
    api | consumer | relay)
        exec python -m "$service" "$process" --host "$host" --port "$port" "$@"
        ;;
    migrate)
        exec python -m "$service" migrate "$@"
        ;;
    healthcheck)
        exec python -c '
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=4).close()  # raises on a 4xx or a 5xx
except Exception as exc:
    print(f"unhealthy: {sys.argv[1]}: {exc}", file=sys.stderr)
    sys.exit(1)
' "http://127.0.0.1:${port}${1:-/healthz}"
        ;;
    *)
        exec "$process" "$@"
        ;;
esac
