"""Where one training step's memory goes, for any registered model.

    python bench/memory_profile.py --model=BiGRUAttentionModel \
        --batch_size=128 --microbatch_size=8

Runs `bench_train`'s step (forward, loss, backward, per-variable clipping,
Adam; random inputs; `--microbatch_size` as `train.py`) under TensorFlow's
BFC CPU allocator (`TF_CPU_ALLOCATOR_USE_BFC=true`, set before TensorFlow
is imported), whose byte counts are exact, and prints ONE JSON object:

* `phases`: after import, after the model is built, after the batch is
  made, after a first step (tracing included) and after a second step:
  the resident set (`rss_mb`), the allocator's `current_mb` and its
  `peak_mb` (statistics reset before the second step, so its peak is the
  step's own);
* `parameter_state_mb`, counted from the variables (4 bytes per float32
  weight): the weights, Adam's two slots, and the gradient buffers a step
  holds at once at most (the gradient and its clipped copy; with
  micro-batches also the accumulator);
* `step`: the step's allocator peak, its transient part (peak - memory in
  use before the step), and what of that the gradient buffers do not
  explain (`activations_and_workspace_mb`: saved activations, backward
  temporaries, kernel workspace);
* `outside_allocator_mb`: RSS after the second step minus the allocator's
  peak, what TensorFlow's runtime, Python and the libraries hold beside
  the tensors (graphs, kernels, oneDNN caches, freed but unreturned pages)
  and the input batch: a tensor made from a numpy array is not allocated
  by the allocator (measured: `current` does not move when it is made).

With `--trace_top=N` the second step also runs under TensorFlow's profiler,
whose allocator events (one per allocation and deallocation, with the op
that made the tensor and its shape) give the tensors alive at the step's
peak; `live_at_peak` lists the N largest groups by (op, shape) with their
bytes and count. This is how the Bi-RNN's per-frame kernel-gradient
partials and the overlapping micro-batches were found (docs/training.md
"The Bi-RNN profile"). Op names are the graph's; the traced peak counts
only allocations made during the step, and sizes are the allocator's chunks
(what it counts as in use: at least the tensor, up to twice it when BFC
hands out a free chunk unsplit).

`bench_train.py` reports the peak RSS under the default allocator (the one
`train.py` uses); this script is for the breakdown. The README's RSS bounds
come from it.
"""

import argparse
import json
import math
import os
import platform
import sys

os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--microbatch_size", type=int, default=0)
    parser.add_argument("--remat", action="store_true",
                        help="build the model as train.py --remat does")
    parser.add_argument("--trace_top", type=int, default=0,
                        help="list the N largest (op, shape) groups alive "
                        "at the step's peak (TensorFlow profiler)")
    parser.add_argument("--num_classes", type=int, default=3862)
    parser.add_argument("--hparams", default="{}",
                        help="JSON dict of model hyperparameters")
    args = parser.parse_args(argv)
    for name in ("batch_size", "max_frames", "num_classes"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if args.microbatch_size < 0:
        parser.error("--microbatch_size must be >= 0")
    if args.trace_top < 0:
        parser.error("--trace_top must be >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    import bench_train  # imports TensorFlow: after the allocator is chosen
    import tensorflow as tf
    from yt8m import models
    from yt8m.layers import remat

    if args.model not in models.list_models():
        print(f"memory_profile.py: error: unknown model {args.model!r}",
              file=sys.stderr)
        return 2
    mb = 2.0 ** 20

    def phase():
        info = tf.config.experimental.get_memory_info("CPU:0")
        return {"rss_mb": round(bench_train.current_rss_mb(), 1),
                "allocator_current_mb": round(info["current"] / mb, 3),
                "allocator_peak_mb": round(info["peak"] / mb, 3)}

    phases = {"after_import": phase()}
    hparams = {**bench_train.model_hparams(args.model, None, args.max_frames),
               **json.loads(args.hparams)}
    feature_sizes = [1024, 128]
    with remat.remat_scope(args.remat):
        model = models.build_model(args.model, num_classes=args.num_classes,
                                   feature_sizes=feature_sizes,
                                   max_frames=args.max_frames, **hparams)
    phases["model_built"] = phase()
    features, labels = bench_train.random_batch(
        model, args.batch_size, args.max_frames, args.num_classes,
        feature_sizes)
    phases["batch_made"] = phase()
    step = bench_train.make_train_step(
        model, features, labels, microbatch_size=args.microbatch_size)
    step().numpy()
    phases["first_step"] = phase()
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    tf.config.experimental.reset_memory_stats("CPU:0")
    if args.trace_top:
        import tempfile

        logdir = tempfile.mkdtemp(prefix="memory_trace_")
        tf.profiler.experimental.start(
            logdir, options=tf.profiler.experimental.ProfilerOptions(
                host_tracer_level=2))
        try:
            step().numpy()
        finally:
            tf.profiler.experimental.stop()
    else:
        step().numpy()
    phases["second_step"] = phase()

    weight_bytes = sum(
        math.prod(v.shape) * tf.as_dtype(v.dtype).size
        for v in model.trainable_variables)
    buffers = 3 if args.microbatch_size else 2
    parameter_state = {
        "weights": round(weight_bytes / mb, 3),
        "adam_slots": round(2 * weight_bytes / mb, 3),
        "gradient_buffers": round(buffers * weight_bytes / mb, 3),
        "gradient_buffer_count": buffers,
    }
    peak = phases["second_step"]["allocator_peak_mb"]
    transient = peak - before / mb
    result = {
        "benchmark": "memory_profile",
        "machine": {"platform": platform.platform(),
                    "cpu_count": os.cpu_count(),
                    "tensorflow": tf.__version__},
        "model": args.model,
        "params": int(model.count_params()),
        "batch_size": args.batch_size,
        "microbatch_size": args.microbatch_size,
        "remat": args.remat,
        "max_frames": args.max_frames,
        "phases": phases,
        "parameter_state_mb": parameter_state,
        "step": {
            "allocator_peak_mb": peak,
            "transient_mb": round(transient, 3),
            "activations_and_workspace_mb": round(
                transient - parameter_state["gradient_buffers"], 3),
        },
        "outside_allocator_mb": round(
            phases["second_step"]["rss_mb"] - peak, 1),
    }
    if args.trace_top:
        result["live_at_peak"] = live_at_peak(logdir, args.trace_top)
    print(json.dumps(result))
    return 0


def _allocator_events(space):
    """(time ps, is_allocation, stats) of the host plane's allocator events
    in time order."""
    events = []
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        names = {k: v.name for k, v in plane.event_metadata.items()}
        stat_names = {k: v.name for k, v in plane.stat_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if name not in ("MemoryAllocation", "MemoryDeallocation"):
                    continue
                stats = {}
                for stat in event.stats:
                    key = stat_names.get(stat.metadata_id)
                    if stat.HasField("ref_value"):
                        stats[key] = stat_names.get(stat.ref_value)
                    elif stat.HasField("str_value"):
                        stats[key] = stat.str_value
                    elif stat.HasField("int64_value"):
                        stats[key] = stat.int64_value
                    elif stat.HasField("uint64_value"):
                        stats[key] = stat.uint64_value
                events.append((line.timestamp_ns * 1000 + event.offset_ps,
                               name == "MemoryAllocation", stats))
    events.sort(key=lambda e: e[0])
    return events


def live_at_peak(logdir, top):
    """The `top` largest (op, shape) groups of tensors alive when the bytes
    allocated during the traced step peaked."""
    import collections

    import op_profile

    events = _allocator_events(op_profile._load_xspace(logdir))
    if not events:
        raise RuntimeError(
            "the profiler recorded no allocator events (is the BFC "
            "allocator on? TF_CPU_ALLOCATOR_USE_BFC=true)")
    live, current, peak, at_peak = {}, 0, 0, {}
    for _, allocation, stats in events:
        address = stats.get("addr")
        if allocation:
            size = int(stats.get("allocation_bytes") or 0)
            live[address] = (size, str(stats.get("tf_op")),
                             str(stats.get("shape")))
            current += size
            if current > peak:
                peak, at_peak = current, dict(live)
        elif address in live:
            current -= live.pop(address)[0]
    groups = collections.defaultdict(lambda: [0, 0])
    for size, op, shape in at_peak.values():
        groups[(op, shape)][0] += size
        groups[(op, shape)][1] += 1
    largest = sorted(groups.items(), key=lambda kv: -kv[1][0])[:top]
    return {"traced_peak_mb": round(peak / 2**20, 3),
            "groups": [{"op": op, "shape": shape,
                        "mb": round(size / 2**20, 3), "count": count}
                       for (op, shape), (size, count) in largest]}


if __name__ == "__main__":
    sys.exit(main())
