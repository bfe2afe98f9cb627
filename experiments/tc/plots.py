"""Figures 8 and 10 of the temporal-coherence paper from trained models.

Figure 8: the learned TC kernels (averaged over the feature maps and
normalised by their largest |value|, as the paper does "so that they can be
plotted together") of TC-RNN, TC-NetV and TC-TM (K and V).
Figure 10: the attention weights of RNN-Attn and TC-RNN over the frames of
one validation video, and (JSON) the mean normalised attention entropy over
the whole validation split (1 = uniform over the valid frames).

    nice -n 10 python experiments/tc/plots.py --runs=/tmp/tc/runs_gen \
        --seed=0 --eval="/tmp/tc/gen/frame/validate-*.tfrecord" \
        --out_dir=docs/images --json=experiments/tc/results/plots.json

`--runs` is table1.py's `--work_dir` of a run made with `--keep`.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from yt8m import config as config_lib  # noqa: E402
from yt8m import evaluation  # noqa: E402
from yt8m import readers  # noqa: E402
from yt8m.readers import model_inputs  # noqa: E402


def load(runs, name, seed):
    train_dir = os.path.join(runs, f"{name}_s{seed}")
    spec = config_lib.read_model_flags(train_dir)
    model = keras.models.load_model(
        evaluation.inference_model_path(train_dir))
    return model, spec


def kernel(layer):
    return np.asarray(layer.averaged_kernel())


def attention_weights(model, batch):
    """[B, T] attention of the "all" tower's AttentionPooling (1 head)."""
    layer = model.get_layer("all_attention")
    frames_tensor = layer.input[0] if isinstance(layer.input, list) \
        else layer.input
    probe = keras.Model(model.input, frames_tensor)
    names = model_inputs.input_names(model)
    h = np.asarray(probe({k: batch[k] for k in names}, training=False))
    w, b = (np.asarray(v) for v in layer.projection.weights)
    scores = (np.tanh(h @ w + b) @ np.asarray(layer.context))[..., 0]
    steps = h.shape[1]
    valid = np.arange(steps)[None, :] < np.asarray(batch["num_frames"])[
        :, None]
    scores = np.where(valid, scores, -np.inf)
    a = np.exp(scores - scores.max(1, keepdims=True))
    return a / a.sum(1, keepdims=True), valid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--out_dir", default="docs/images")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    rnn, _ = load(args.runs, "TCRNNModel", args.seed)
    netv, _ = load(args.runs, "TCNetVLADModel", args.seed)
    tm, _ = load(args.runs, "TCTransformerModel", args.seed)
    kernels = {
        "TC-RNN": kernel(rnn.get_layer("all_coherence")),
        "TC-NetV": kernel(netv.get_layer("input_coherence")),
    }
    for tower in ("rgb", "audio"):
        try:
            attention = tm.get_layer(f"{tower}_encoder_0").self_attention
        except ValueError:
            continue
        kernels[f"Transformer_K ({tower})"] = kernel(attention.key_coherence)
        kernels[f"Transformer_V ({tower})"] = kernel(
            attention.value_coherence)
    fig, ax = plt.subplots(figsize=(4.8, 3.2), dpi=80)
    for label, values in kernels.items():
        half = len(values) // 2
        ax.plot(np.arange(-half, half + 1), values / np.abs(values).max(),
                marker="o", label=label)
    ax.set_xlabel("time offset j - i")
    ax.set_ylabel("kernel weight / max |weight|")
    ax.set_title("Learned TC kernels (avg. over feature maps)", fontsize=9)
    ax.legend(fontsize=6)
    fig.tight_layout()
    kernel_png = os.path.join(args.out_dir, "tc_kernels.png")
    fig.savefig(kernel_png)

    plain, spec = load(args.runs, "BiGRUAttentionModel", args.seed)
    batch = next(iter(readers.build_dataset(
        args.eval, model_inputs.make_reader(spec), batch_size=100000)))
    a_plain, valid = attention_weights(plain, batch)
    a_tc, _ = attention_weights(rnn, batch)
    counts = valid.sum(1)

    def entropy(a):
        safe = np.where(valid, a, 1.0)
        ent = -(np.where(valid, a * np.log(safe), 0.0)).sum(1)
        keep = counts > 1
        return float(np.mean(ent[keep] / np.log(counts[keep])))

    def peak(a):
        return float(np.mean(a.max(1)[counts > 1]))

    # The example: the longest video.
    index = int(np.argmax(counts))
    n = int(counts[index])
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 2.4), dpi=80, sharey=True)
    for ax, a, title in ((axes[0], a_plain, "RNN-Attn (no TC)"),
                         (axes[1], a_tc, "TC-RNN")):
        ax.bar(np.arange(n), a[index, :n], width=1.0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("frame")
    axes[0].set_ylabel("attention weight")
    fig.tight_layout()
    attention_png = os.path.join(args.out_dir, "tc_attention.png")
    fig.savefig(attention_png)
    out = {
        "seed": args.seed, "runs": args.runs,
        "kernels": {k: v.tolist() for k, v in kernels.items()},
        "example_video": model_inputs.decode_ids(
            batch["video_ids"])[index],
        "example_num_frames": n,
        "mean_normalised_attention_entropy": {
            "RNN-Attn": entropy(a_plain), "TC-RNN": entropy(a_tc)},
        "mean_max_attention_weight": {
            "RNN-Attn": peak(a_plain), "TC-RNN": peak(a_tc)},
        "num_videos": int(len(counts)),
        "pngs": [kernel_png, attention_png],
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
