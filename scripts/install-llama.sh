#!/usr/bin/env bash
# Installs llama-cpp-python (the local model's runtime) into the venv VENV at the version pinned in
# CONSTRAINTS, built from source once per machine and kept in a wheel cache of this project's own:
#   bash scripts/install-llama.sh VENV CONSTRAINTS
# The build is portable x86-64 (AVX2, FMA, F16C: GGML_NATIVE=OFF), not tuned to the building CPU: a virtual
# machine can report AMX in cpuid that its hypervisor does not enable, and a native build then dies with SIGILL
# ("tilezero") at its first matrix multiply. pip's own wheel cache would hand back such a native wheel whatever
# CMAKE_ARGS say, so the wheel is built with --no-cache-dir into a folder named after the build flags.
set -euo pipefail
venv=${1:?usage: scripts/install-llama.sh VENV CONSTRAINTS}
constraints=${2:?usage: scripts/install-llama.sh VENV CONSTRAINTS}
cmake_args="-DGGML_NATIVE=OFF"
version=$(sed -n 's/^llama-cpp-python==\([^ ]*\).*/\1/p' "$constraints")
[ -n "$version" ] || { echo "install-llama: no llama-cpp-python pin in $constraints" >&2; exit 2; }
flags_key=$(printf '%s' "$cmake_args" | sha256sum | cut -c1-12)
wheels="${XDG_CACHE_HOME:-$HOME/.cache}/llmcompiler-provider/wheels/llama-$flags_key"
wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "install-llama: building llama-cpp-python $version ($cmake_args; about 5-10 minutes, once per machine)"
  mkdir -p "$wheels"
  CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
    "$venv/bin/pip" wheel --quiet --no-deps --no-cache-dir -w "$wheels" "llama-cpp-python==$version"
  wheel=$(ls "$wheels"/llama_cpp_python-"$version"-*.whl | head -n 1)
fi
marker="$venv/.llama-wheel"
if [ "$(cat "$marker" 2>/dev/null)" != "$wheel" ]; then
  "$venv/bin/pip" install --quiet --no-deps --force-reinstall "$wheel"
  echo "$wheel" > "$marker"
fi
