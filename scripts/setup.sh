#!/usr/bin/env bash
# HIIT PI set-up, one command from a fresh clone. Idempotent: a second run checks and changes nothing.
#
#   scripts/setup.sh          system packages, .venv with hiitpi installed, model files
#   scripts/setup.sh --dev    the same plus what the tests need (chromium, chromium-driver, test extras)
#
# Environment: HIITPI_MODEL_MIRROR=/path/to/models   copy model files from a folder instead of downloading.
#              CMAKE_ARGS=...                         passed to the llama-cpp-python build (first run only;
#                                                     pip keeps the built wheel in its cache).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say()  { printf '\033[1m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[33m!!\033[0m  %s\n' "$*" >&2; MISSING+=("$*"); }
DONE=(); MISSING=()

IS_PI=0
if grep -qs "Raspberry Pi" /proc/device-tree/model; then IS_PI=1; fi

# --- system packages -------------------------------------------------------------------------
APT_PKGS=(redis-server ffmpeg)
[ "$IS_PI" = 1 ] && APT_PKGS+=(python3-picamera2 python3-venv)
[ "$DEV" = 1 ] && APT_PKGS+=(chromium chromium-driver shellcheck)
need=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; else SUDO="none"; fi
  fi
  if [ "$SUDO" = none ] || ! command -v apt-get >/dev/null; then
    warn "system packages not installed: ${need[*]} (run: sudo apt-get install ${need[*]})"
  else
    say "installing system packages: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    DONE+=("installed ${need[*]}")
  fi
fi

# --- Python virtual environment ----------------------------------------------------------------
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup.sh: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  VENV_ARGS=()
  # On a Pi, picamera2 and libcamera come from apt: the venv must see the system's packages.
  [ "$IS_PI" = 1 ] && VENV_ARGS+=(--system-site-packages)
  say "creating .venv ${VENV_ARGS[*]}"
  "$PY" -m venv "${VENV_ARGS[@]}" .venv
  .venv/bin/pip install -q --upgrade pip
  DONE+=("created .venv")
fi

EXTRAS="[coach]"; [ "$DEV" = 1 ] && EXTRAS="[coach,test]"
STAMP=.venv/.hiitpi-installed
want="$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16) dev=$DEV"
check_imports='import hiitpi, numpy, cv2, redis, sqlalchemy, alembic, dash, uvicorn, starlette, a2wsgi, av, llama_cpp'
[ "$DEV" = 1 ] && check_imports+=', pytest, selenium, hypothesis, gguf, jsonschema'
if [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && .venv/bin/python -c "$check_imports" 2>/dev/null; then
  :
else
  if ! .venv/bin/python -c 'import llama_cpp' 2>/dev/null \
    && [ -z "$(find ~/.cache/pip/wheels -name 'llama_cpp_python-*.whl' 2>/dev/null | head -1)" ]; then
    say "llama-cpp-python builds from source the first time (6-11 minutes on 2 cores); pip caches the wheel"
  fi
  say "installing hiitpi$EXTRAS and its dependencies into .venv"
  .venv/bin/pip install -q -e ".$EXTRAS"
  echo "$want" > "$STAMP"
  DONE+=("installed hiitpi$EXTRAS into .venv")
fi

# --- model files -----------------------------------------------------------------------------------
say "model files (hiitpi models fetch${HIITPI_MODEL_MIRROR:+, mirror $HIITPI_MODEL_MIRROR})"
if ! .venv/bin/hiitpi --log-level WARNING models fetch --no-progress; then
  warn "the default pose model could not be fetched: see above (set HIITPI_MODEL_MIRROR to a folder with it)"
fi

# the coach's model is a 670 MB download, fetched on purpose only: say so when it is not here
coach_model=$(.venv/bin/hiitpi --log-level ERROR models list 2>/dev/null | awk '$1 == "tinyllama" {print $2}')
if [ -n "$coach_model" ] && [ "$coach_model" != "ok" ]; then
  warn "the coach's model (tinyllama, 670 MB): summaries come from a template until you run .venv/bin/hiitpi models fetch tinyllama"
fi

# --- report ------------------------------------------------------------------------------------
echo
if [ "${#DONE[@]}" -gt 0 ]; then
  for d in "${DONE[@]}"; do echo "  done:    $d"; done
else
  echo "  nothing to do: everything was already in place"
fi
for m in "${MISSING[@]+"${MISSING[@]}"}"; do echo "  missing: $m"; done
echo "  run:     $ROOT/.venv/bin/hiitpi serve    (see README.md)"
