#!/usr/bin/env bash
# Installs everything robot_stack needs on a fresh Debian machine: system libraries (as root),
# a virtual environment with the CPU torch wheel first, the ALOHA model files, and the project.
set -euo pipefail
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

debian_libs=(libegl1 libgl1 libusb-1.0-0)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for lib in "${debian_libs[@]}"; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed" || missing+=("$lib")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing Debian libraries: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian libraries ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# Headless Chromium renders the audit's HTML report in the tests (tests/test_audit_sim.py skips without it).
if command -v apt-get >/dev/null 2>&1 && ! command -v chromium-headless-shell >/dev/null 2>&1 \
  && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing chromium-headless-shell (renders the audit report in the tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium-headless-shell fonts-liberation >/dev/null
  else
    echo "setup: note: the HTML report test is skipped without headless Chromium;" \
      "run: sudo apt-get install chromium-headless-shell" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# torch first, pinned, so nothing later resolves "torch" to the multi-GB CUDA build.
"${PIP[@]}" install "torch==2.13.0"
"${PIP[@]}" install -e ".[dev]"
# Last and without dependencies: only its MuJoCo model files are used (see docs/architecture.md).
"${PIP[@]}" install --no-deps "gym-aloha==0.1.5"
echo "setup: done ($VENV)"
