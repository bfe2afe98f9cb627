#!/bin/sh
# The whole MFB study of docs/mfb.md, sequentially (one training at a time),
# from the repository root: tuning on a split carved out of the TRAIN shards,
# the final 3-seed Avgpooling table on the fixed validation split, and the
# DBoF / NetVLAD tables on generated frame data. Writes experiments/mfb/*.json.
set -e
PY="nice -n 10 .venv/bin/python experiments/mfb/run_table.py"
# Grids a-c: the first session (6 MFB settings, 2 FC-concat); d-e: the second,
# which brings them to 15 MFB and 14 FC-concat settings over the same lr axis
# (2e-4 .. 5e-2, 7 values) and
# dropout axis (0 .. 0.3), MFB's extra ones being its own knobs (normalisation,
# bias, k/o). The budget grid (3 epochs) is a diagnostic, not a candidate.
for g in a b c d e; do
  $PY --split=tune --seeds=1 --epochs=1 --configs=experiments/mfb/tune_grid_$g.json \
    --work_dir=/tmp/mfb_tune --output=experiments/mfb/results_tune_$g.json
done
$PY --split=tune --seeds=1 --epochs=1 --configs=experiments/mfb/budget_grid.json \
  --work_dir=/tmp/mfb_tune --output=experiments/mfb/results_budget.json
.venv/bin/python experiments/mfb/pick_final.py experiments/mfb/results_tune_[abcde].json \
  experiments/mfb/final_configs.json
$PY --split=final --seeds=1,2,3 --epochs=1 --configs=experiments/mfb/final_configs.json \
  --work_dir=/tmp/mfb_final --output=experiments/mfb/results_final.json
GEN="--split=generated --seeds=1,2,3 --epochs=3 --batch_size=64 --lr=0.01 --set=iterations=30 \
  --set=mfb_output_dim=64 --work_dir=/tmp/mfb_gen"
$PY $GEN --aggregation=dbof --set=dbof_cluster_size=64 --set=dbof_activation=relu6 \
  --output=experiments/mfb/results_generated_dbof.json
$PY $GEN --aggregation=netvlad --set=netvlad_cluster_size=8 \
  --output=experiments/mfb/results_generated_netvlad.json
