#!/usr/bin/env bash
# Sets everything up, then starts the daemon with the sample station (station.yaml).
# On a machine with no sound card the daemon writes what it would air as WAV files
# under var/aired/ and says so loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/announcer check
exec .venv/bin/announcer run --fallback-to-file "$@"
