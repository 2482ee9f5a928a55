#!/usr/bin/env bash
# Run a command inside the project's environment, creating it first when it is missing:
#   bash scripts/run.sh isla demo        bash scripts/run.sh pytest
# The environment is .venv beside this folder (override with ISLA_VENV). nnU-Net is told where the
# ISLA trainers live and to use few worker processes, which suits small machines.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${ISLA_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/isla" ] || [ "$root/pyproject.toml" -nt "$venv/.isla-installed" ]; then
    echo "setting up $venv (first run: a few minutes)" >&2
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
    "$venv/bin/python" -m pip install --quiet -e "$root[dev]" >&2
    touch "$venv/.isla-installed"
fi

export PATH="$venv/bin:$PATH"
eval "$("$venv/bin/isla" env)"
cd "$root"
exec "$@"
