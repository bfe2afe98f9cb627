#!/usr/bin/env bash
# A ~5-minute GPU subset of `make bench`: prints one JSON object per line.
#
#   make install DEVICE=gpu && bash bench/gpu_check.sh [.venv/bin/python]
#
# 1. the matmul peaks (float32, bfloat16, float16) and the train step of the
#    models the performance targets name, batch 128 x 300 frames, float32;
# 2. DbofModel at the two Model Garden configurations (batch 32), float32,
#    mixed_float16 and mixed_bfloat16, each with and without XLA;
# 3. the reader against the fastest model's consumption on the GPU.
# Each step has its own time limit so one slow model cannot eat the rest.
set -uo pipefail
PY="${1:-.venv/bin/python}"
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
"$PY" -c "import tensorflow as tf, sys; g = tf.config.list_physical_devices('GPU'); print('# GPUs:', g, file=sys.stderr); sys.exit(0 if g else 'no GPU visible to TensorFlow: make install DEVICE=gpu')" || exit 1
run() { timeout "$1" "${@:2}" || echo "{\"error\": \"exit $? (limit $1 s): ${*:2}\"}"; }
BT="$PY bench/bench_train.py --device=gpu --warmup=3 --steps=10"
run 120 $BT --models=DbofModel,NetVLADModelLF,NeXtVLADModel,TransformerModel,BiGRUAttentionModel,CrossModalNetVLAD,TCNetVLADModel | tr -d '\n'; echo
for cfg in starter mg_default; do
  for mp in float32 mixed_float16 mixed_bfloat16; do
    run 40 $BT --models=DbofModel --config=$cfg --batch_size=32 --mixed_precision=$mp | tr -d '\n'; echo
    run 40 $BT --models=DbofModel --config=$cfg --batch_size=32 --mixed_precision=$mp --jit_compile | tr -d '\n'; echo
  done
done
run 60 "$PY" bench/bench_pipeline.py --device=gpu --num_videos=1000 | tr -d '\n'; echo
