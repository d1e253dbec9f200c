#!/usr/bin/env bash
# Build a wheelhouse: flyttkedja and every dependency as wheels, to carry to a
# machine without internet (a register environment such as SCB's MONA) and
# install there with `pip install --no-index --find-links` (docs/offline.md).
#
# Run on a connected machine, from a checkout of flyttkedja:
#
#   scripts/build_wheelhouse.sh wheelhouse                 # for a machine like this one
#   scripts/build_wheelhouse.sh wheelhouse --python-version 3.12 --platform manylinux_2_28_x86_64
#   scripts/build_wheelhouse.sh wheelhouse --python-version 3.11 --platform win_amd64
#   WITH_TESTS=1 scripts/build_wheelhouse.sh wheelhouse    # also pytest, hypothesis ... to run the tests there
#
# Extra arguments go to `pip download` (target interpreter and platform: only
# binary wheels are taken then, so the offline machine needs no compiler).
# The wheelhouse gets SHA256SUMS, to check the copy after the transfer
# (`sha256sum -c SHA256SUMS`), and INSTALL.txt with the commands to run there.
set -euo pipefail

out=${1:-wheelhouse}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# flyttkedja itself (pure Python: one wheel fits every platform)
"$python" -m pip wheel --no-deps --wheel-dir "$out" "$root"
wheel=$(ls -t "$out"/flyttkedja-*.whl | head -n 1)
extra=""
if [ "${WITH_TESTS:-0}" = "1" ]; then extra="[test]"; fi

# every dependency, resolved from the wheel's own metadata (pyproject.toml), as binary wheels
"$python" -m pip download --only-binary=:all: --dest "$out" "$@" "${wheel}${extra}"

(cd "$out" && sha256sum -- *.whl > SHA256SUMS)
cat > "$out/INSTALL.txt" <<TXT
Offline install of flyttkedja (docs/offline.md):

  sha256sum -c SHA256SUMS
  python3 -m venv .venv && . .venv/bin/activate
  pip install --no-index --find-links . $(basename "$wheel")${extra}
  flyttkedja demo --out flyttkedja-demo
TXT
echo "wheelhouse: $out ($(ls "$out"/*.whl | wc -l) wheels, $(du -sh "$out" | cut -f1))"
