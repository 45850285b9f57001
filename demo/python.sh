# The one choice of Python for the project's virtualenvs, sourced (bash) by ./demo/run and
# ./tests/run, so both use the same interpreter and say the same thing about .venv.
#
#   pick_python [X.Y ...]    print the path of the newest interpreter that works among the given
#                            versions (default: CD_PYTHONS, newest first, or CD_PYTHON); fail if none
#   ensure_venv DIR PYTHON   make DIR a venv of PYTHON if it has none, or a broken or unsupported
#                            one; if DIR runs another supported X.Y, keep it and say so loudly
#                            (remove DIR to switch)
#   python_version PYTHON    its X.Y.Z ("" if it does not run)
#
# For each version it looks at pythonX.Y on PATH, pyenv's versions (${PYENV_ROOT:-~/.pyenv}, the
# newest patch release) and python3 if that is X.Y. A candidate counts only if it runs and has
# venv and ensurepip: a pyenv shim may have no interpreter behind it, Debian's python3 may lack
# python3-venv. CD_PYTHON=/path/to/python overrides the default choice (not an explicit list:
# tests/run's CD_MATRIX asks for 3.10 on purpose).

# Supported by the package and its dependencies (pyproject's classifiers), newest first.
CD_PYTHONS=(3.14 3.13 3.12 3.11 3.10)

_cd_probe() {  # _cd_probe CANDIDATE: "X.Y.Z PATH" if it runs and can make a venv with pip
  "$1" -c 'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3], sys.executable)' 2>/dev/null
}

_cd_patch() {  # _cd_patch X.Y.Z: Z as a number (rc/dev releases count as .0)
  local z=${1##*.}
  z=${z%%[!0-9]*}
  echo "${z:-0}"
}

pick_python() {  # pick_python [X.Y ...]
  local versions=("$@") v c found best best_patch patch
  if [ ${#versions[@]} -eq 0 ]; then
    versions=("${CD_PYTHONS[@]}")
    if [ -n "${CD_PYTHON:-}" ]; then
      found=$(_cd_probe "$CD_PYTHON") || {
        echo "CD_PYTHON=$CD_PYTHON does not run, or has no venv/ensurepip module" >&2
        return 1
      }
      echo "${found#* }"
      return 0
    fi
  fi
  for v in "${versions[@]}"; do
    best="" best_patch=-1
    for c in "python$v" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python python3; do
      command -v "$c" >/dev/null 2>&1 || continue
      found=$(_cd_probe "$c") || continue
      case "$found" in "$v".*) ;; *) continue ;; esac  # python3, or a shim, that is another X.Y
      patch=$(_cd_patch "${found%% *}")
      if [ "$patch" -gt "$best_patch" ]; then best=$found best_patch=$patch; fi
    done
    if [ -n "$best" ]; then echo "${best#* }"; return 0; fi
  done
  echo "no working Python ${versions[*]} (looked for python<X.Y> on PATH, in ${PYENV_ROOT:-$HOME/.pyenv}/versions and at python3;" \
    "Debian: apt install python3 python3-venv; macOS: brew install python; or set CD_PYTHON)" >&2
  return 1
}

python_version() {  # python_version PYTHON
  "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true
}

_cd_supported() {  # _cd_supported X.Y.Z
  local v
  for v in "${CD_PYTHONS[@]}"; do
    case "$1" in "$v".*) return 0 ;; esac
  done
  return 1
}

ensure_venv() {  # ensure_venv DIR PYTHON
  local dir=$1 py=$2 want have
  want=$(python_version "$py")
  if [ -e "$dir" ]; then
    if [ ! -f "$dir/pyvenv.cfg" ]; then
      echo "!! $dir exists but is not a virtualenv (no pyvenv.cfg): move it away and re-run" >&2
      return 1
    fi
    have=$(python_version "$dir/bin/python")
    if [ -z "$have" ]; then
      echo "== $dir has no working Python (was its interpreter removed?): recreating it with Python $want"
      rm -rf "$dir"
    elif ! _cd_supported "$have"; then
      echo "== $dir has Python $have, which is not supported (${CD_PYTHONS[*]}): recreating it with Python $want"
      rm -rf "$dir"
    elif [ "${have%.*}" != "${want%.*}" ]; then
      echo "!! $dir has Python $have, not Python $want ($py), the one chosen now:" \
        "keeping it; to switch, remove it (rm -rf $dir) and re-run" >&2
    fi
  fi
  if [ ! -e "$dir" ]; then
    echo "== creating $dir with Python $want ($py)"
    "$py" -m venv "$dir"
  fi
}
