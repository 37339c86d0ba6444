#!/usr/bin/env bash
# Install HIIT PI as an appliance on Raspberry Pi OS Bookworm (64-bit). Idempotent: run it again to
# update the code; your /etc/hiitpi/hiitpi.toml, history and pairing are kept.
#
#   sudo scripts/install-pi.sh                 install or update, start the service
#   sudo scripts/install-pi.sh --coral         also install Coral's libedgetpu1-std (Coral apt repo)
#   sudo scripts/install-pi.sh --no-coach      quick install without llama-cpp-python (no compiler, no
#                                              llama.cpp build): the coach's summaries are the template
#   sudo scripts/install-pi.sh --privacy       new config streams the skeleton only (no camera image)
#   sudo scripts/install-pi.sh --uninstall     stop and remove the service and /opt/hiitpi
#   sudo scripts/install-pi.sh --uninstall --purge   also remove config, history, secrets and the user
#
# Other options: --prefix DIR (default /opt/hiitpi), --models-from DIR (copy model files from a folder
# instead of downloading), --no-start, --dry-run (print what would be done), --render-unit (print the
# unit file as it would be installed, then exit), --emulated (scripts/check-arm64.sh: an arm64 Debian
# root under qemu; installs as on a Pi except what only a Pi has: python3-picamera2 from Raspberry Pi
# OS's apt repository is replaced by Debian's python3-numpy, the numpy it brings; no camera, no systemd).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/hiitpi
CONF_DIR=/etc/hiitpi
DATA_DIR=/var/lib/hiitpi
USER_NAME=hiitpi
UNIT_DIR=/etc/systemd/system
CORAL=0 PRIVACY=0 UNINSTALL=0 PURGE=0 START=1 DRY=0 RENDER=0 COACH=1 EMULATED=0
MODELS_FROM=""

usage() { sed -n '2,17p' "$0"; }
need_arg() {  # a flag's value: present and not another flag
  if [ -z "${2:-}" ] || [ "${2#--}" != "$2" ]; then
    echo "install-pi.sh: $1 needs a folder (try --help)" >&2
    exit 2
  fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --coral) CORAL=1 ;;
    --privacy) PRIVACY=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --no-start) START=0 ;;
    --dry-run) DRY=1 ;;
    --render-unit) RENDER=1 ;;
    --no-coach) COACH=0 ;;
    --emulated) EMULATED=1 ;;
    --prefix) need_arg "$1" "${2:-}"; PREFIX=$2; shift ;;
    --models-from) need_arg "$1" "${2:-}"; MODELS_FROM=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install-pi.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$PREFIX" in
  /*) ;;
  *) echo "install-pi.sh: --prefix must be an absolute path" >&2; exit 2 ;;
esac
if [ -n "$MODELS_FROM" ] && [ "$DRY" = 0 ] && [ ! -d "$MODELS_FROM" ]; then
  echo "install-pi.sh: --models-from $MODELS_FROM is not a folder" >&2
  exit 2
fi
if [ "$UNINSTALL" = 0 ] && [ "$PURGE" = 1 ]; then
  echo "install-pi.sh: --purge goes with --uninstall (--uninstall --purge)" >&2
  exit 2
fi

# Bold and yellow on a terminal only: a log (journal, CI, check-arm64.sh) gets plain text.
BOLD="" YELLOW="" PLAIN=""
if [ -t 1 ]; then BOLD=$'\033[1m' YELLOW=$'\033[33m' PLAIN=$'\033[0m'; fi
say() { printf '%s==>%s %s\n' "$BOLD" "$PLAIN" "$*"; }
warn() { printf '%s!!%s  %s\n' "$YELLOW" "$PLAIN" "$*" >&2; }
# Progress: "[n/8] what", and how long the step before it took.
STEPS=8 STEP=0 T_START=$SECONDS T_STEP=$SECONDS
step() {
  if [ "$STEP" -gt 0 ]; then printf '    (%d s)\n' $((SECONDS - T_STEP)); fi
  STEP=$((STEP + 1)) T_STEP=$SECONDS
  printf '%s==> [%d/%d]%s %s\n' "$BOLD" "$STEP" "$STEPS" "$PLAIN" "$*"
}
# Every change to the system goes through run, so --dry-run shows the whole plan.
run() {
  if [ "$DRY" = 1 ]; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}

render_unit() {
  sed -e "s#/opt/hiitpi#${PREFIX}#g" \
      -e "s#/var/lib/hiitpi#${DATA_DIR}#g" \
      "$SRC/systemd/hiitpi.service"
}

if [ "$RENDER" = 1 ]; then
  render_unit
  exit 0
fi

if [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "install-pi.sh: run it as root: sudo $0 $*" >&2
  exit 1
fi

have_systemd() { [ -d /run/systemd/system ]; }

# --- uninstall ---------------------------------------------------------------------------------
if [ "$UNINSTALL" = 1 ]; then
  if have_systemd && systemctl list-unit-files hiitpi.service >/dev/null 2>&1; then
    say "stopping and disabling hiitpi.service"
    run systemctl disable --now hiitpi.service || true
  fi
  run rm -f "$UNIT_DIR/hiitpi.service"
  if have_systemd; then run systemctl daemon-reload; fi
  say "removing $PREFIX"
  run rm -rf "$PREFIX"
  if [ "$PURGE" = 1 ]; then
    say "purging $CONF_DIR, $DATA_DIR (history, models, pairing secrets) and user $USER_NAME"
    run rm -rf "$CONF_DIR" "$DATA_DIR"
    if id "$USER_NAME" >/dev/null 2>&1; then run userdel "$USER_NAME"; fi
  else
    say "kept $CONF_DIR and $DATA_DIR (history and pairing); --uninstall --purge removes them"
  fi
  say "apt packages (redis-server, python3-picamera2, libedgetpu1-std) are left installed"
  exit 0
fi

# --- checks ------------------------------------------------------------------------------------
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != bookworm ]; then
    echo "install-pi.sh: warning: written for Raspberry Pi OS Bookworm, this is ${PRETTY_NAME:-unknown}" >&2
  fi
fi
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
if [ "$ARCH" != arm64 ] && [ "$ARCH" != aarch64 ]; then
  echo "install-pi.sh: warning: the 64-bit OS (arm64) is expected, this is $ARCH" >&2
fi
IS_PI=0
if grep -qs "Raspberry Pi" /proc/device-tree/model; then IS_PI=1; fi
if [ "$EMULATED" = 1 ]; then
  say "emulated Pi: python3-numpy from Debian stands in for python3-picamera2; no camera, no systemd"
fi

# --- apt packages ------------------------------------------------------------------------------
step "apt packages"
APT_PKGS=(redis-server python3-venv python3-pip ca-certificates curl gnupg)
# cmake + compiler: llama-cpp-python has no aarch64 wheel, it builds from source
if [ "$COACH" = 1 ]; then APT_PKGS+=(build-essential cmake); fi
if [ "$EMULATED" = 1 ]; then APT_PKGS+=(python3-numpy)
elif [ "$IS_PI" = 1 ]; then APT_PKGS+=(python3-picamera2); fi

if [ "$CORAL" = 1 ]; then
  KEYRING=/usr/share/keyrings/coral-edgetpu-archive-keyring.gpg
  LIST=/etc/apt/sources.list.d/coral-edgetpu.list
  if [ ! -s "$KEYRING" ]; then
    say "adding Coral's apt signing key"
    if [ "$DRY" = 1 ]; then
      printf '+ %s\n' "curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | gpg --dearmor -o $KEYRING"
    else
      curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | gpg --dearmor --yes -o "$KEYRING"
    fi
  fi
  LINE="deb [signed-by=$KEYRING] https://packages.cloud.google.com/apt coral-edgetpu-stable main"
  if [ "$(cat "$LIST" 2>/dev/null)" != "$LINE" ]; then
    say "adding Coral's apt repository"
    if [ "$DRY" = 1 ]; then printf '+ %s\n' "echo '$LINE' > $LIST"; else echo "$LINE" > "$LIST"; fi
    APT_UPDATE=1
  fi
  APT_PKGS+=(libedgetpu1-std)
fi

say "apt packages: ${APT_PKGS[*]}"
need=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ] || [ "${APT_UPDATE:-0}" = 1 ]; then
  say "installing ${need[*]:-(none, refreshing the lists)} (downloads them: can take minutes)"
  run apt-get update -qq
  if [ "${#need[@]}" -gt 0 ]; then
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
fi

# --- the user and its groups -------------------------------------------------------------------
step "the $USER_NAME user and its groups"
if ! id "$USER_NAME" >/dev/null 2>&1; then
  say "creating system user $USER_NAME"
  run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "HIIT PI appliance" "$USER_NAME"
fi
if [ "$CORAL" = 1 ] && ! getent group apex >/dev/null; then
  run groupadd --system apex  # the Coral PCIe/M.2 docs' group for /dev/apex_*
fi
if [ "$CORAL" = 1 ]; then
  RULE='SUBSYSTEM=="apex", MODE="0660", GROUP="apex"'
  if [ "$(cat /etc/udev/rules.d/65-apex.rules 2>/dev/null)" != "$RULE" ]; then
    if [ "$DRY" = 1 ]; then printf '+ %s\n' "echo '$RULE' > /etc/udev/rules.d/65-apex.rules"
    else echo "$RULE" > /etc/udev/rules.d/65-apex.rules; fi
  fi
fi
# camera (video), dma heaps on some kernels (render), USB Coral via libedgetpu's udev rule (plugdev)
for g in video render plugdev apex; do
  if getent group "$g" >/dev/null && ! id -nG "$USER_NAME" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
    run usermod -aG "$g" "$USER_NAME"
  fi
done

# --- code and virtual environment --------------------------------------------------------------
step "copying HIIT PI to $PREFIX/src"
run install -d -m 0755 "$PREFIX"
run rm -rf "$PREFIX/src.new"
run install -d -m 0755 "$PREFIX/src.new"
if [ "$DRY" = 1 ]; then
  printf '+ %s\n' "tar -C $SRC -cf - (without .git .venv caches) | tar -C $PREFIX/src.new -xf -"
else
  tar -C "$SRC" --exclude=.git --exclude=.venv --exclude=__pycache__ --exclude='*.egg-info' \
      --exclude=.pytest_cache --exclude=.ruff_cache -cf - . | tar -C "$PREFIX/src.new" -xf -
fi
run rm -rf "$PREFIX/src"
run mv "$PREFIX/src.new" "$PREFIX/src"

step "Python packages in $PREFIX/venv"
if [ ! -x "$PREFIX/venv/bin/python" ]; then
  say "creating the virtual environment (with system packages, for picamera2/libcamera)"
  run python3 -m venv --system-site-packages "$PREFIX/venv"
fi
# Bookworm's picamera2 and simplejpeg are built against Debian's numpy 1.24: keep that numpy in the
# venv (numpy 2 breaks `import picamera2`), and the OpenCV wheels that still accept numpy 1.
CONSTRAINTS="$PREFIX/constraints.txt"
SYS_NUMPY=$(python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
if [ "$DRY" = 0 ]; then
  {
    echo "# written by install-pi.sh"
    if [ -n "$SYS_NUMPY" ]; then
      echo "numpy==$SYS_NUMPY"
      case "$SYS_NUMPY" in 1.*) echo "opencv-python-headless<4.12" ;; esac
    fi
  } > "$CONSTRAINTS"
fi
PIP=("$PREFIX/venv/bin/pip" --disable-pip-version-check)
run "${PIP[@]}" install --quiet --upgrade pip
if [ "$COACH" = 1 ]; then
  TARGET="$PREFIX/src[coach]"
  if [ "$DRY" = 1 ] || ! "$PREFIX/venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    CACHED=$("${PIP[@]}" cache list 'llama_cpp_python*' 2>/dev/null | grep -c '\.whl' || true)
    # A wheel in a folder of PIP_FIND_LINKS (scripts/check-arm64.sh puts a cross-built one there)
    GIVEN=""
    for d in ${PIP_FIND_LINKS:-}; do
      for w in "$d"/llama_cpp_python-*.whl; do if [ -f "$w" ]; then GIVEN=$w; fi; done
    done
    if [ -n "$GIVEN" ]; then
      say "llama-cpp-python: a wheel is given in PIP_FIND_LINKS (${GIVEN##*/}): no build unless PyPI has a newer release"
    elif [ "${CACHED:-0}" = 0 ]; then
      warn "llama-cpp-python (the coach) has no wheel for this platform: pip compiles llama.cpp now, the"
      warn "  longest step. Measured: 6-11 min on a 2-core x86 PC. A Pi 4 was not measured: expect 15-30 min"
      warn "  (an estimate from its 4 slower cores). pip keeps the built wheel: later runs reuse it."
      warn "  A quick install without the coach (template summaries): --no-coach."
    else
      say "llama-cpp-python: reusing the wheel pip built before"
    fi
  fi
else
  TARGET="$PREFIX/src"
  if [ "$DRY" = 1 ] || "$PREFIX/venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
    say "--no-coach: removing llama-cpp-python from the venv (summaries will be the template)"
    run "${PIP[@]}" uninstall --quiet --yes llama-cpp-python
  fi
fi
say "pip install $TARGET (-c $CONSTRAINTS)"
if [ "$DRY" = 1 ]; then
  printf '+ %s\n' "${PIP[*]} install --progress-bar off -c $CONSTRAINTS -e $TARGET"
else
  # pip's own progress, without the "already satisfied" lines of an update
  "${PIP[@]}" install --progress-bar off -c "$CONSTRAINTS" -e "$TARGET" \
    | sed -u '/^Requirement already satisfied/d'
fi

# --- config and data ---------------------------------------------------------------------------
step "settings in $CONF_DIR and data in $DATA_DIR"
run install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$DATA_DIR"
run install -d -m 0755 "$CONF_DIR"
if [ ! -e "$CONF_DIR/hiitpi.toml" ]; then
  say "writing $CONF_DIR/hiitpi.toml"
  PRIV=false
  if [ "$PRIVACY" = 1 ]; then PRIV=true; fi
  CONF="# HIIT PI settings. \`hiitpi config show\` prints every key with its default.
[general]
data_dir = \"$DATA_DIR\"

[capture]
source = \"auto\"

[web]
host = \"0.0.0.0\"
port = 8050
privacy_mode = $PRIV

[redis]
# hiitpi's own redis-server on loopback, started and watched by \`hiitpi serve\`, with a password
# kept in $DATA_DIR/redis (no other user of this machine can send it commands)
url = \"redis://127.0.0.1:6380/0\"

[referee]
rules_dir = \"$PREFIX/src/rules\"
"
  if [ "$DRY" = 1 ]; then printf '+ write %s:\n%s\n' "$CONF_DIR/hiitpi.toml" "$CONF"
  else printf '%s' "$CONF" > "$CONF_DIR/hiitpi.toml"; fi
  run chown "root:$USER_NAME" "$CONF_DIR/hiitpi.toml"
  run chmod 0640 "$CONF_DIR/hiitpi.toml"
else
  say "keeping $CONF_DIR/hiitpi.toml"
  if [ "$PRIVACY" = 1 ] && ! grep -q '^privacy_mode *= *true' "$CONF_DIR/hiitpi.toml"; then
    echo "install-pi.sh: note: set privacy_mode = true under [web] in $CONF_DIR/hiitpi.toml yourself" >&2
  fi
fi
as_user() { run runuser -u "$USER_NAME" -- env HIITPI_CONFIG="$CONF_DIR/hiitpi.toml" "$@"; }
if [ "$DRY" = 0 ]; then
  run runuser -u "$USER_NAME" -- "$PREFIX/venv/bin/hiitpi" config check "$CONF_DIR/hiitpi.toml"
fi

step "model files in $DATA_DIR/models"
if [ -n "$MODELS_FROM" ]; then
  as_user HIITPI_MODEL_MIRROR="$MODELS_FROM" "$PREFIX/venv/bin/hiitpi" models fetch --no-progress
else
  as_user "$PREFIX/venv/bin/hiitpi" models fetch --no-progress
fi

step "pairing code"
# Pairing: made once, shown once (here with a QR code, and in the journal under the tag hiitpi);
# `hiitpi pair --reset` makes a new one.
if [ "$DRY" = 0 ] && have_systemd && command -v systemd-cat >/dev/null; then
  runuser -u "$USER_NAME" -- env HIITPI_CONFIG="$CONF_DIR/hiitpi.toml" "$PREFIX/venv/bin/hiitpi" pair \
    | tee >(systemd-cat -t hiitpi -p notice)
else
  as_user "$PREFIX/venv/bin/hiitpi" pair
fi

# --- systemd -----------------------------------------------------------------------------------
step "systemd unit $UNIT_DIR/hiitpi.service"
if [ "$DRY" = 1 ]; then
  printf '+ %s\n' "render systemd/hiitpi.service (prefix $PREFIX) > $UNIT_DIR/hiitpi.service"
else
  render_unit > "$UNIT_DIR/hiitpi.service.new"
  chmod 0644 "$UNIT_DIR/hiitpi.service.new"
  mv "$UNIT_DIR/hiitpi.service.new" "$UNIT_DIR/hiitpi.service"
fi
if have_systemd; then
  run systemd-analyze verify "$UNIT_DIR/hiitpi.service"
  run systemctl daemon-reload
  run systemctl enable hiitpi.service
  if [ "$START" = 1 ]; then
    run systemctl restart hiitpi.service
    say "started: journalctl -u hiitpi -f; http://$(hostname).local:8050/"
  fi
else
  say "systemd is not running here: enable later with systemctl enable --now hiitpi"
fi
printf '    (%d s)\n' $((SECONDS - T_STEP))
if [ "$COACH" = 0 ]; then
  say "installed without the coach: summaries are the template (run again without --no-coach to add it)"
fi
say "done in $((SECONDS - T_START)) s"
