#!/usr/bin/env bash
# A separate virtual environment with LeRobot 0.4.4, used only by bench/policies.py to measure our
# policies side by side with LeRobot's ACT and Diffusion Policy. Nothing in robot_stack imports it.
#
#   bash scripts/setup_lerobot.sh            # creates .venv-lerobot/ (gitignored)
#   LEROBOT_VENV=/elsewhere bash scripts/setup_lerobot.sh
#
# torch goes in first, as a CPU wheel (a local one from $TORCH_WHEEL or /opt/wheels if present), so
# that nothing later pulls the CUDA build. LeRobot, torchvision and the packages its policy modules
# import are then installed with --no-deps: LeRobot's own requirements would pull robot SDKs, gym
# environments and a CUDA torch that a policy benchmark does not need.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LEROBOT_VENV:-.venv-lerobot}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

wheel=${TORCH_WHEEL:-$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -n1 || true)}
if [ -n "$wheel" ]; then
  $PIP install "$wheel"
else
  $PIP install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
fi

# LeRobot and what `lerobot.policies.{act,diffusion}` import, without their dependency trees, at the
# versions lerobot 0.4.4 asks for (it asks for torch<2.11 and torchvision<0.26 too; the benchmark runs
# it on torch 2.13 / torchvision 0.28, the versions available here, and its policy code works there)
$PIP install --no-deps \
  lerobot==0.4.4 torchvision==0.28.0 \
  "diffusers>=0.27.2,<0.36" draccus==0.10.0 "einops>=0.8,<0.9" "deepdiff>=7.0.1,<9" "jsonlines>=4,<5" \
  "pyserial>=3.5,<4" "huggingface-hub>=0.34.2,<0.36" safetensors "termcolor>=2.4,<4" \
  "imageio>=2.34,<3" "av>=15,<16" "datasets>=4,<5" "accelerate>=1.10,<2"
# the pure-Python packages those import
$PIP install --no-deps \
  numpy "packaging>=24.2,<26" pyyaml tqdm requests urllib3 idna certifi charset-normalizer filelock fsspec \
  regex pillow importlib-metadata zipp mergedeep pyyaml-include toml typing-inspect mypy-extensions \
  orderly-set psutil hf-xet typing-extensions \
  multiprocess dill pyarrow pandas xxhash python-dateutil pytz tzdata six httpx httpcore anyio h11 sniffio
echo "LeRobot environment ready in $VENV"
# torchvision's compiled operators are built against CUDA and do not load with the CPU torch; the
# harness (bench/_lerobot_harness.py) skips their fake-operator registrations before importing it.
"$VENV/bin/python" bench/_lerobot_harness.py --check
