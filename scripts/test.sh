#!/usr/bin/env bash
# Sets everything up (including PulseAudio and Chromium for the tests), then runs the
# whole test suite. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
