#!/usr/bin/env bash
# SASS identity check for kernel refactors (behaviour unchanged without a GPU).
# Compiles every kernels/src/*.cu to a cubin per arch at the farm's kernel flags
# (xtask/src/engine/command.rs: -O3 -std=c++17, -fPIC, -fvisibility=hidden,
# kernels/include + toolkit include; *_sm90a.cu -> sm_90a only), dumps SASS with
# cuobjdump -sass and the ptxas -v resource lines, for a baseline commit and for
# the working tree, and diffs them raw (offsets included).
#
# usage: kernels/notes/sass_identity.sh [BASE_COMMIT] [ARCHES...]
#   BASE_COMMIT defaults to d00cab6 (use HEAD for uncommitted work); ARCHES default to sm_80 sm_89 sm_90 sm_120.
#   env: NVCC (default: the provisioned CUDA 13.0 nvcc), CUOBJDUMP, OUTDIR,
#        SRCS (space-separated basenames to restrict, e.g. "attn_int8.cu").
set -euo pipefail
repo=$(git rev-parse --show-toplevel)
base=${1:-d00cab6}; shift || true
arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=(sm_80 sm_89 sm_90 sm_120)
NVCC=${NVCC:-/root/.cache/attnfarm/toolkits/cuda13.0-linux_x86_64-4345907b1dbcc6a3/nvidia/cu13/bin/nvcc}
tk=$(dirname "$(dirname "$NVCC")")
if [ -z "${CUOBJDUMP:-}" ]; then
  CUOBJDUMP=$(command -v cuobjdump || true)
  [ -n "$CUOBJDUMP" ] || [ ! -x "$tk/bin/cuobjdump" ] || CUOBJDUMP=$tk/bin/cuobjdump
  [ -n "$CUOBJDUMP" ] || CUOBJDUMP=$(ls /root/.cache/uv/archive-v0/*/triton/backends/nvidia/bin/cuobjdump 2>/dev/null | head -1)
fi
[ -x "$CUOBJDUMP" ] || { echo "no cuobjdump found" >&2; exit 2; }
out=${OUTDIR:-/tmp/sass_identity}
# The baseline's dumps are kept per commit and reused (KEEP_BASE=0 rebuilds them).
bdir=$out/base-$(git -C "$repo" rev-parse --short "$base")
if [ "${KEEP_BASE:-1}" = 0 ] || [ ! -d "$bdir/kernels" ]; then
  rm -rf "$bdir"; mkdir -p "$bdir"
  git -C "$repo" archive "$base" kernels | tar -x -C "$bdir"
fi
rm -rf "$out/new"; mkdir -p "$out/new"
cp -a "$repo/kernels" "$out/new/"

build() { # tree
  local t=$1 src a arch name
  for src in "$t"/kernels/src/*.cu; do
    name=$(basename "$src" .cu)
    if [ -n "${SRCS:-}" ] && [[ " $SRCS " != *" $name.cu "* ]]; then continue; fi
    for a in "${arches[@]}"; do
      arch=$a
      if [[ $name == *_sm90a ]]; then [ "$a" = sm_90 ] || continue; arch=sm_90a; fi
      if [ "$t" = "$bdir" ] && [ -s "$t/$name.$arch.sass" ]; then continue; fi
      "$NVCC" -cubin "$src" -o "$t/$name.$arch.cubin" -O3 -std=c++17 -ccbin g++ \
        -Xcompiler -fPIC -Xcompiler -fvisibility=hidden \
        -I"$t/kernels/include" -I"$tk/include" \
        -gencode "arch=compute_${arch#sm_},code=$arch" -Xptxas -v 2>"$t/$name.$arch.log"
      grep -E 'registers|spill|stack frame|Compiling entry|Function properties' "$t/$name.$arch.log" \
        >"$t/$name.$arch.ptxas" || true
      "$CUOBJDUMP" -sass "$t/$name.$arch.cubin" | grep -v 'code for sm_\|Fatbin\|^\s*$' >"$t/$name.$arch.sass.raw"
      # The one normalisation: nvcc names an anonymous namespace
      # _GLOBAL__N__<8 hex>_<len>_<file>_<8 hex> with a hash that changes from
      # one compile to the next (identical sources, same path or not), so the
      # first hash is replaced; the instruction streams are compared raw.
      sed -E 's/_GLOBAL__N__[0-9a-f]{8}_/_GLOBAL__N__HASH_/g' "$t/$name.$arch.sass.raw" >"$t/$name.$arch.sass"
      sed -Ei 's/_GLOBAL__N__[0-9a-f]{8}_/_GLOBAL__N__HASH_/g' "$t/$name.$arch.ptxas"
    done
  done
}
build "$bdir"
build "$out/new"
status=0
for f in "$bdir"/*.sass "$bdir"/*.ptxas; do
  n=$(basename "$f" | cut -d. -f1); a=$(basename "$f" | cut -d. -f2)
  if [ -n "${SRCS:-}" ] && [[ " $SRCS " != *" $n.cu "* ]]; then continue; fi
  if [[ " ${arches[*]} " != *" $a "* ]] && [[ $a != sm_90a || " ${arches[*]} " != *" sm_90 "* ]]; then continue; fi
  g=$out/new/$(basename "$f")
  if cmp -s "$f" "$g"; then echo "IDENTICAL $(basename "$f") ($(wc -l <"$f") lines)"; continue; fi
  status=1
  case $f in
    *.sass)
      # Same instructions in another order or with other registers? The
      # opcode histograms say; the first lines of the raw diff follow.
      ops() { grep -oE '^\s+/\*[0-9a-f]+\*/\s+[A-Z][A-Z0-9._]*' "$1" | awk '{print $2}' | sort | uniq -c; }
      if diff -q <(ops "$f") <(ops "$g") >/dev/null; then hist="same opcode histogram"; else hist="opcode histogram differs"; fi
      echo "DIFFERENT $(basename "$f") ($hist)"
      { diff "$f" "$g" || true; } | head -20 ;;
    *)
      # The resource lines without the kernel names (a renamed kernel or
      # template argument changes every name, not what ptxas allocated).
      res() { grep -v 'Compiling entry\|Function properties' "$1"; }
      if diff -q <(res "$f") <(res "$g") >/dev/null; then echo "DIFFERENT $(basename "$f") (names only: resources identical)"
      else echo "DIFFERENT $(basename "$f") (resources differ:)"; { diff <(res "$f") <(res "$g") || true; } | head -20; fi ;;
  esac
done
exit $status
