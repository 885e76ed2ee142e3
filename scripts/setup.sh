#!/usr/bin/env bash
# Installs everything announcer needs on Debian/Ubuntu. Safe to run again.
#   scripts/setup.sh          the station (daemon) only
#   scripts/setup.sh --test   also what the test suite needs (Chromium, fonts)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libportaudio2 libasound2-plugins open-jtalk-mecab-naist-jdic ffmpeg
          build-essential cmake python3-dev python3-venv sqlite3)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(pulseaudio pulseaudio-utils chromium fonts-noto-cjk openssl)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> apt-get install ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
  echo "==> python3 -m venv .venv"
  python3 -m venv .venv
fi
# One stamp: the pyproject.toml it was made from and what was installed ("station", or
# "test", which includes the station's packages). So the station after the tests
# (scripts/test.sh, then scripts/run-station.sh) installs nothing again.
stamp=.venv/.installed
want=station; [[ "${1:-}" == "--test" ]] && want=test
hash=$(sha256sum pyproject.toml | cut -c1-16)
have_hash= have_what=
[[ -e "$stamp" ]] && { read -r have_hash have_what < "$stamp" || true; }
if [[ "${have_hash:-}" != "$hash" || ( "$want" == test && "${have_what:-}" != test ) ]]; then
  echo "==> pip install (pyopenjtalk compiles from source: about 2 minutes the first time)"
  .venv/bin/pip install -q --upgrade pip
  if [[ "$want" == test ]]; then
    .venv/bin/pip install -q -e ".[test]"
  else
    .venv/bin/pip install -q -e .
  fi
  rm -f .venv/.installed-*  # the stamps of earlier versions of this script
  echo "$hash $want" > "$stamp"
fi
echo "==> ready: .venv/bin/announcer"
