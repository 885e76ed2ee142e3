#!/usr/bin/env bash
# Sets everything up (including PulseAudio and Chromium for the tests), then runs the
# whole test suite. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# Three workers, a test file each at a time (--dist loadfile: a module's station, browser
# and PulseAudio stay in one process; each audio test has a PulseAudio of its own). Most
# of the suite waits on real time (airings, restarts), so three overlap well on 2 cores.
# ANNOUNCER_TEST_WORKERS=0 runs it in one process.
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${ANNOUNCER_TEST_WORKERS:-3}" \
  --dist loadfile --durations=15 "$@"
