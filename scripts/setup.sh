#!/usr/bin/env bash
# Idempotent set-up on Debian 12: system packages, a virtualenv, the project with its test extras.
# Re-running it is fast: it installs only what is missing and reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Bureau side: WeasyPrint needs Pango; PDFs embed Noto CJK; pdftotext/pdftoppm read them back; xorriso
# builds and burns ISO images; the portal is tested in Debian's chromium through chromium-driver.
DEB_PACKAGES=(mosquitto mosquitto-clients chrony libfaketime ffmpeg rsync openssl
  libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils xorriso
  chromium chromium-driver systemd)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Services from these packages are started by the project itself (tests, demo), never by the system.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

PY=${PYTHON:-python3}
# Debian's own Python ships venv and ensurepip separately; a bare machine may have no Python at all.
if ! command -v "$PY" >/dev/null 2>&1 || ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "setup: installing Debian's python3 with venv"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip >/dev/null
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: bodycam needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.bodycam-installed
want=$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing bodycam and its test extras into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  echo "$want" > "$stamp"
fi
# The Chinese message catalogue is compiled at install time from locale/zh_CN/*.po (never committed).
.venv/bin/python -m bodycam.i18n_catalog compile >/dev/null
