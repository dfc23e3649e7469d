# Sourced by the scripts: make sure .venv exists and holds the project (with EXTRAS).
# Re-installs only when pyproject.toml changed since the last install, so a second
# run is fast. Usage: EXTRAS=dev . scripts/_venv.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
spec="."
[ -n "$EXTRAS" ] && spec=".[${EXTRAS}]"
stamp="$VENV/.installed-$(printf '%s' "$EXTRAS" | tr ',' '-')"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing the project into .venv (${spec}) ..." >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet -e "$spec")
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
