"""Per-op time of a `tf.function` step, from TensorFlow's own profiler.

Traces `steps` calls of a step with `tf.profiler.experimental`, reads the
XSpace it writes (`*.xplane.pb`) and sums, per TensorFlow op type, the time
of the op events on the host's executor threads. Only TensorFlow itself is
imported (no yt8m), so the same file runs in the peer venv of
`../shared/peer/` and profiles Model Garden's step the same way.

Times are wall time of the op kernels summed over threads (two ops running
at once on two threads count twice), per step, in milliseconds. Events
nested in another op event (a kernel launched from inside a function-call
op) are not counted twice: only outermost op events count, except that the
`PartitionedCall` / `StatefulPartitionedCall` wrappers are skipped in favour
of what they contain.

    from op_profile import profile_ops
    table = profile_ops(lambda: step(x, y), steps=3)
"""

import collections
import glob
import os
import re
import tempfile

import tensorflow as tf

# Wrapper ops whose own time is the time of what they run.
_WRAPPERS = {"PartitionedCall", "StatefulPartitionedCall", "__inference",
             "_Retval", "_Arg"}
# An op event's name is "name:Type" (TF op events on executor threads).
_OP_EVENT = re.compile(r"^(?P<name>[^:]+):(?P<type>[A-Za-z0-9_]+)$")


def _load_xspace(logdir):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"),
                      recursive=True)
    if not paths:
        raise RuntimeError(f"no *.xplane.pb under {logdir}")
    space = xplane_pb2.XSpace()
    with open(max(paths, key=os.path.getmtime), "rb") as f:
        space.ParseFromString(f.read())
    return space


def _op_events(space):
    """Yields (op name, op type, duration ps) of the host plane's outermost
    TF op events (wrappers unwrapped)."""
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        meta = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            events = []
            for ev in line.events:
                m = _OP_EVENT.match(meta.get(ev.metadata_id, ""))
                if not m or m.group("type") in _WRAPPERS:
                    continue
                start = line.timestamp_ns * 1000 + ev.offset_ps
                events.append((start, ev.duration_ps, m.group("name"),
                               m.group("type")))
            events.sort()
            end_of_outer = -1
            for start, dur, name, op_type in events:
                if start < end_of_outer:
                    continue  # nested in the previous outermost op event
                end_of_outer = start + dur
                yield name, op_type, dur


def summarize(space, steps, by="type"):
    """{op type (or name): milliseconds per step}, largest first."""
    totals = collections.Counter()
    for name, op_type, dur in _op_events(space):
        totals[op_type if by == "type" else name] += dur
    return {k: round(v / 1e9 / steps, 3) for k, v in totals.most_common()}


def profile_ops(step, steps=3, by="type", top=None, logdir=None):
    """Runs `step()` `steps` times under the profiler; returns
    {"ops_ms_per_step": {op: ms}, "traced_ms_per_step": total}.

    Call `step` a few times before (tracing, warm-up): this traces only."""
    logdir = logdir or tempfile.mkdtemp(prefix="op_profile_")
    tf.profiler.experimental.start(logdir)
    try:
        for _ in range(steps):
            out = step()
            if hasattr(out, "numpy"):
                out.numpy()
    finally:
        tf.profiler.experimental.stop()
    table = summarize(_load_xspace(logdir), steps, by=by)
    total = round(sum(table.values()), 3)
    if top:
        table = dict(list(table.items())[:top])
    return {"ops_ms_per_step": table, "traced_ms_per_step": total}


def main():
    """`python bench/op_profile.py --model=NetVLADModelLF [--batch_size=128]`:
    the op profile of one registered model's `bench_train.py` step."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--max_frames", type=int, default=300)
    parser.add_argument("--hparams", default="{}")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--by", choices=("type", "name"), default="name")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--inter_op_threads", type=int, default=1)
    args = parser.parse_args()
    tf.config.threading.set_inter_op_parallelism_threads(
        args.inter_op_threads)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))
    sys.path.insert(0, here)
    import bench_train

    hparams = {**bench_train.model_hparams(args.model, None,
                                           args.max_frames),
               **json.loads(args.hparams)}
    step = bench_train.build_train_step(args.model, args.batch_size,
                                        args.max_frames, hparams)
    step().numpy()
    result = profile_ops(step, steps=args.steps, by=args.by,
                         top=args.top or None)
    result.update(model=args.model, batch_size=args.batch_size,
                  inter_op_threads=args.inter_op_threads)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
