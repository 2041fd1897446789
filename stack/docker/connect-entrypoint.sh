#!/bin/bash
# Kafka Connect in docker-compose: writes the secrets file the connector configs reference
# (${file:<MPS_CONNECT_SECRETS_FILE>:mysql.password}, FileConfigProvider) from SYNC_PASSWORD in
# the environment, as stack/stack writes .stack/secrets/connect.properties locally, then runs
# the image's entrypoint with the arguments given. Passwords never appear in a connector config.
set -euo pipefail

: "${SYNC_PASSWORD:?connect-entrypoint.sh: SYNC_PASSWORD is not set (docker-compose.yaml passes it)}"
: "${MPS_CONNECT_SECRETS_FILE:?connect-entrypoint.sh: MPS_CONNECT_SECRETS_FILE is not set}"

# A value in a Java properties file: a backslash starts an escape, and blanks at the start of a
# value are dropped unless escaped.
property() {
  local value=${2//\\/\\\\}
  printf '%s=%s\n' "$1" "${value// /\\ }"
}

umask 077
mkdir -p "$(dirname "$MPS_CONNECT_SECRETS_FILE")"
{
  property mysql.user sync
  property mysql.password "$SYNC_PASSWORD"
  property postgres.user sync
  property postgres.password "$SYNC_PASSWORD"
} >"$MPS_CONNECT_SECRETS_FILE"

exec "$@"
