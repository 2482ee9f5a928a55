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
    # pip compiles bytecode on one core; compileall uses every core, which halves that part of a fresh
    # set-up (about 45 s of CPU). Bytecode must exist: with PYTHONDONTWRITEBYTECODE set, every run would
    # otherwise recompile torch. A few packages ship files that do not compile (old test data), so
    # compileall's status is not an error.
    "$venv/bin/python" -m pip install --quiet --no-compile -e "$root[dev]" >&2
    "$venv/bin/python" -m compileall -q -j 0 "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null 2>&1 || true
    touch "$venv/.isla-installed"
fi

export PATH="$venv/bin:$PATH"
eval "$("$venv/bin/isla" env)"
cd "$root"
exec "$@"
