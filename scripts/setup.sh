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
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${1:-}
if [[ ! -e "$stamp" ]]; then
  echo "==> pip install (pyopenjtalk compiles from source: about 2 minutes the first time)"
  .venv/bin/pip install -q --upgrade pip
  if [[ "${1:-}" == "--test" ]]; then
    .venv/bin/pip install -q -e ".[test]"
  else
    .venv/bin/pip install -q -e .
  fi
  touch "$stamp"
fi
echo "==> ready: .venv/bin/announcer"
