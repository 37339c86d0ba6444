#!/usr/bin/env bash
# The test command: set up (idempotent, with test extras), lint, then the whole test suite.
# Tests start their own redis-server on a free loopback port; they read the shared models and
# clips through HIITPI_MODEL_MIRROR / HIITPI_DATA (default ../shared/models and ../shared/data).
# Extra arguments go to pytest, e.g. scripts/test.sh -k store -x
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=$(cd .. && pwd)/shared
export HIITPI_MODEL_MIRROR=${HIITPI_MODEL_MIRROR:-$SHARED/models}
export HIITPI_DATA=${HIITPI_DATA:-$SHARED/data}
scripts/setup.sh --dev   # with the mirror set, the model files come from it
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> pytest"
exec .venv/bin/pytest "$@"
