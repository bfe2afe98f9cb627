"""Synthetic YouTube-8M datasets with planted, learnable multi-modal structure.

`generate_dataset(output_dir, size="demo", seed=0, **overrides)` writes, in
the YT8M wire formats (see docs/data_tools.md):

  output_dir/
    dataset.json            manifest: seed, sizes, feature sizes, patterns
    taxonomy.csv            Index,Name,Path (3-level label hierarchy)
    vocabulary.csv          official vocabulary.csv column layout
    frame/{split}-XXXXX-of-YYYYY.tfrecord    SequenceExample, uint8 frames
    video/{split}-XXXXX-of-YYYYY.tfrecord    Example, mean_rgb/mean_audio
    segment/{split}-XXXXX-of-YYYYY.tfrecord  2019 segment format
    metadata/{split}.jsonl  per-video ground truth (leaves, scenes,
                            uncorrelated audio, twin classes, test labels)

What is planted (all of it recorded in metadata/*.jsonl):
* a label hierarchy: top-level group > mid class > leaf; a video carries a
  leaf and all its ancestors, sometimes a second leaf (and its ancestors);
* per-class prototypes in rgb and audio whose geometry follows the
  hierarchy (leaf = mid + noise = group + noise + noise);
* temporally coherent scenes: a video is a few runs of frames around a
  scene vector near one of its leaves' prototypes (or a background
  "filler" scene: intro/outro), plus a per-class drift direction applied
  along the video's time axis, plus small per-frame noise;
* "twin" leaves: sibling pairs with the same base prototype and opposite
  drift, so their videos have the same expected mean and differ only in
  frame order -- a signal only frame-level models can use;
* `uncorrelated_audio_fraction` of the videos take their audio from a
  leaf of a different top-level group, with its own scene cuts, so
  audio-video correlation is a real signal;
* varying `num_frames` (a few 1-5 frame videos, many short ones, some full
  300-frame ones).

Everything is a deterministic function of the seed: every video has its own
random stream keyed by (seed, split, index), protos are serialized
deterministically, and nothing machine- or path-specific is written, so the
same seed and options give byte-identical files.
"""

import json
import os

import numpy as np

from yt8m import files
from yt8m.data import writers
from yt8m.data.taxonomy import Hierarchy

SPLITS = ("train", "validate", "test")
_SPLIT_CODES = {"train": 1, "validate": 2, "test": 3}
_ID_PREFIX = {"train": "Tr", "validate": "Va", "test": "Te"}
SEGMENT_SIZE = 5

_DEFAULTS = dict(
    num_classes=60,
    num_groups=4,
    mids_per_group=2,
    num_train=1500,
    num_validate=300,
    num_test=200,
    train_shards=8,
    validate_shards=2,
    test_shards=1,
    rgb_size=1024,
    audio_size=128,
    max_frames=300,
    # Label structure.
    second_leaf_prob=0.3,
    twin_fraction=0.25,
    leaf_zipf_exponent=0.6,
    # Modalities.
    uncorrelated_audio_fraction=0.2,
    # Temporal structure.
    filler_prob=0.4,
    frames_per_scene=40.0,
    max_scenes=8,
    very_short_fraction=0.06,
    full_length_fraction=0.06,
    long_fraction=0.12,
    short_max_frames=60,
    # Feature geometry (in dequantized units; the uint8 range is [-2, 2]).
    group_scale=0.35,
    mid_scale=0.15,
    leaf_scale=0.1,
    drift_scale=0.3,
    scene_noise=0.5,
    frame_noise=0.15,
    # Segment (2019) records.
    segment_splits=("validate", "test"),
    segments_per_video=5,
)

PRESETS = {
    "tiny": dict(
        num_classes=24, num_groups=3, num_train=60, num_validate=30,
        num_test=10, train_shards=2, validate_shards=1, test_shards=1,
    ),
    "demo": dict(),
    "small": dict(
        num_classes=150, num_groups=6, mids_per_group=3, num_train=6000,
        num_validate=1200, num_test=800, train_shards=30,
        validate_shards=6, test_shards=4,
    ),
}


def resolve_config(size="demo", **overrides):
    """Preset `size` + overrides -> full config dict (validated)."""
    if size not in PRESETS:
        raise ValueError(f"unknown size {size!r}; choose from {sorted(PRESETS)}")
    config = dict(_DEFAULTS)
    config.update(PRESETS[size])
    num_videos = overrides.pop("num_videos", None)
    unknown = set(overrides) - set(config)
    if unknown:
        raise ValueError(f"unknown generator options: {sorted(unknown)}")
    config.update({k: v for k, v in overrides.items() if v is not None})
    if num_videos is not None:
        # A total: 75% train, 15% validate, 10% test (at least 1 each).
        num_videos = int(num_videos)
        if num_videos < 3:
            raise ValueError("num_videos must be >= 3")
        config["num_validate"] = max(1, int(round(num_videos * 0.15)))
        config["num_test"] = max(1, int(round(num_videos * 0.10)))
        config["num_train"] = num_videos - config["num_validate"] - config[
            "num_test"]
    config["segment_splits"] = tuple(config["segment_splits"])
    for split in SPLITS:
        n = config[f"num_{split}"]
        shards = config[f"{split}_shards"]
        if n < 0 or shards < 1:
            raise ValueError(f"bad size for split {split}: {n} / {shards}")
        config[f"{split}_shards"] = max(1, min(shards, n)) if n else 1
    if not 1 <= config["max_frames"]:
        raise ValueError("max_frames must be >= 1")
    if not 0.0 <= config["uncorrelated_audio_fraction"] <= 1.0:
        raise ValueError("uncorrelated_audio_fraction must be in [0, 1]")
    return config


def shard_name(split, shard, num_shards):
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord"


class _World:
    """Everything shared by all videos: hierarchy, prototypes, label prior."""

    def __init__(self, config, seed):
        self.config = config
        self.hierarchy = Hierarchy.build(
            config["num_classes"], config["num_groups"],
            config["mids_per_group"])
        h = self.hierarchy
        rng = np.random.default_rng([seed, 0])
        self.leaves = np.array(h.leaves)
        self.group_of = np.array([n.group for n in h.nodes])
        # Zipf-like leaf popularity over a random ranking.
        ranks = rng.permutation(len(self.leaves))
        weights = 1.0 / (ranks + 1.0) ** config["leaf_zipf_exponent"]
        self.leaf_probs = weights / weights.sum()
        # Twin pairs: siblings with the same base and opposite drift.
        pairs = []
        for mid in (n.index for n in h.nodes if n.level == 1):
            kids = list(rng.permutation(h.children(mid)))
            pairs += [(int(kids[i]), int(kids[i + 1]))
                      for i in range(0, len(kids) - 1, 2)]
        num_pairs = min(len(pairs), int(round(
            config["twin_fraction"] * len(self.leaves) / 2)))
        chosen = rng.choice(len(pairs), num_pairs, replace=False) if (
            num_pairs) else []
        self.twin_of = {}
        for i in sorted(int(c) for c in chosen):
            a, b = pairs[i]
            self.twin_of[a], self.twin_of[b] = b, a
        self.protos = {}
        for name, dim in (("rgb", config["rgb_size"]),
                          ("audio", config["audio_size"])):
            self.protos[name] = self._prototypes(rng, dim)

    def _prototypes(self, rng, dim):
        c = self.config
        h = self.hierarchy
        base = np.zeros((h.num_classes, dim), np.float32)
        drift = np.zeros((h.num_classes, dim), np.float32)
        scales = (c["group_scale"], c["mid_scale"], c["leaf_scale"])
        for n in h.nodes:  # pre-order: parents come first
            parent = base[n.parent] if n.parent >= 0 else 0.0
            base[n.index] = parent + scales[n.level] * rng.standard_normal(
                dim, dtype=np.float32)
            drift[n.index] = c["drift_scale"] * rng.standard_normal(
                dim, dtype=np.float32)
        for a, b in self.twin_of.items():
            if a < b:
                base[b] = base[a]
                drift[b] = -drift[a]
        background = c["group_scale"] * rng.standard_normal(
            dim, dtype=np.float32)
        return {"base": base, "drift": drift, "background": background}


def _num_frames(rng, c):
    max_frames = c["max_frames"]
    r = rng.random()
    if r < c["very_short_fraction"]:
        n = rng.integers(1, 6)
    elif r < c["very_short_fraction"] + c["full_length_fraction"]:
        n = max_frames
    elif r < (c["very_short_fraction"] + c["full_length_fraction"]
              + c["long_fraction"]):
        n = rng.integers(c["short_max_frames"], max_frames + 1)
    else:
        n = rng.integers(6, c["short_max_frames"] + 1)
    return int(min(max(n, 1), max_frames))


def _scene_bounds(rng, num_frames, c):
    n = 1 + rng.poisson(num_frames / c["frames_per_scene"])
    n = int(min(n, c["max_scenes"], num_frames))
    cuts = []
    if n > 1:
        cuts = sorted(int(x) for x in rng.choice(
            np.arange(1, num_frames), n - 1, replace=False))
    return [0] + cuts + [num_frames]


def _render(rng, protos, bounds, sources, num_frames, c):
    """Frames [T, D] float32 for scenes `bounds` with class `sources`.

    A source of -1 is a background (filler) scene without drift.
    """
    dim = protos["base"].shape[1]
    frames = c["frame_noise"] * rng.standard_normal(
        (num_frames, dim), dtype=np.float32)
    time = ((2.0 * np.arange(num_frames) + 1.0) / num_frames - 1.0).astype(
        np.float32)
    for k, src in enumerate(sources):
        start, end = bounds[k], bounds[k + 1]
        noise = c["scene_noise"] * rng.standard_normal(dim, dtype=np.float32)
        if src < 0:
            frames[start:end] += protos["background"] + noise
        else:
            frames[start:end] += protos["base"][src] + noise
            frames[start:end] += time[start:end, None] * protos["drift"][src]
    return frames


def _video(world, split, index, seed):
    """One video: ids, labels, quantized frames, means, segments, metadata."""
    c = world.config
    h = world.hierarchy
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    num_frames = _num_frames(rng, c)
    primary = int(rng.choice(world.leaves, p=world.leaf_probs))
    leaves = [primary]
    if rng.random() < c["second_leaf_prob"]:
        same_group = rng.random() < 0.5
        mask = (world.leaves != primary) & (
            (world.group_of[world.leaves] == world.group_of[primary])
            == same_group)
        if mask.any():
            p = world.leaf_probs * mask
            leaves.append(int(rng.choice(world.leaves, p=p / p.sum())))
    labels = sorted({a for leaf in leaves for a in h.ancestors_and_self(leaf)})

    bounds = _scene_bounds(rng, num_frames, c)
    num_scenes = len(bounds) - 1
    offset = int(rng.integers(len(leaves)))
    sources = [leaves[(k + offset) % len(leaves)] for k in range(num_scenes)]
    if num_scenes >= 2 and rng.random() < c["filler_prob"]:
        sources[0 if rng.random() < 0.5 else num_scenes - 1] = -1
    rgb = _render(rng, world.protos["rgb"], bounds, sources, num_frames, c)

    uncorrelated = bool(rng.random() < c["uncorrelated_audio_fraction"])
    if uncorrelated:
        others = world.leaves[world.group_of[world.leaves]
                              != world.group_of[primary]]
        audio_leaf = int(rng.choice(others))
        audio_bounds = _scene_bounds(rng, num_frames, c)
        audio_sources = [audio_leaf] * (len(audio_bounds) - 1)
    else:
        audio_leaf = primary
        audio_bounds, audio_sources = bounds, sources
    audio = _render(rng, world.protos["audio"], audio_bounds, audio_sources,
                    num_frames, c)

    rgb_q = writers.quantize(rgb)
    audio_q = writers.quantize(audio)
    mean_rgb = writers.dequantize(rgb_q).mean(axis=0, dtype=np.float64)
    mean_audio = writers.dequantize(audio_q).mean(axis=0, dtype=np.float64)

    segments = []
    if split in c["segment_splits"] and split != "test":
        rated = leaves[int(rng.integers(len(leaves)))]
        starts = np.arange(0, num_frames - SEGMENT_SIZE + 1, SEGMENT_SIZE)
        if len(starts):
            # Like the 2019 ratings (about 56% positive), rate negative
            # segments (filler or another leaf's scenes) where a video has
            # them: up to half of the rated segments.
            frame_source = np.repeat(sources, np.diff(bounds))
            hits = np.array([int((frame_source[s:s + SEGMENT_SIZE]
                                  == rated).sum()) for s in starts])
            positive = 2 * hits > SEGMENT_SIZE
            k = min(len(starts), c["segments_per_video"])
            neg = rng.permutation(starts[~positive])[:k // 2]
            pos = rng.permutation(starts[positive])[:k - len(neg)]
            for s in sorted(int(x) for x in np.concatenate([neg, pos])):
                score = 1.0 if positive[s // SEGMENT_SIZE] else 0.0
                segments.append((s, int(rated), score))

    video_id = f"{_ID_PREFIX[split]}{index:04d}"
    meta = {
        "id": video_id,
        "num_frames": num_frames,
        "labels": labels,
        "leaves": leaves,
        "twin_leaves": [leaf for leaf in leaves if leaf in world.twin_of],
        "scenes": [[bounds[k], bounds[k + 1], sources[k]]
                   for k in range(num_scenes)],
        "uncorrelated_audio": uncorrelated,
        "audio_leaf": audio_leaf,
        "audio_scenes": [[audio_bounds[k], audio_bounds[k + 1],
                          audio_sources[k]]
                         for k in range(len(audio_bounds) - 1)],
        "segments": [list(s) for s in segments],
    }
    return {
        "id": video_id,
        "labels": None if split == "test" else labels,
        "rgb": rgb_q,
        "audio": audio_q,
        "mean_rgb": mean_rgb.astype(np.float32),
        "mean_audio": mean_audio.astype(np.float32),
        "segments": segments,
        "meta": meta,
    }


def _serialize(proto):
    return proto.SerializeToString(deterministic=True)


def _clean(output_dir):
    """Removes records and metadata a previous run left in our sub-dirs."""
    for sub, suffix in (("frame", ".tfrecord"), ("video", ".tfrecord"),
                        ("segment", ".tfrecord"), ("metadata", ".jsonl")):
        path = os.path.join(output_dir, sub)
        if os.path.isdir(path):
            for name in os.listdir(path):
                if name.endswith(suffix):
                    os.remove(os.path.join(path, name))


def _write_text(path, text):
    files.atomic_write_text(path, text)


def generate_dataset(output_dir, size="demo", seed=0, **overrides):
    """Writes a synthetic dataset to `output_dir`; returns the manifest.

    Args:
      output_dir: directory (created if needed). Existing `frame/`, `video/`,
        `segment/` records and `metadata/` files there are replaced.
      size: preset name: "tiny" (tests), "demo" (default), "small".
      seed: int; the same seed and options give byte-identical files.
      **overrides: any config key (see `_DEFAULTS`), e.g. `num_classes`,
        `num_train`, `num_videos` (total, split 75/15/10), `rgb_size`,
        `audio_size`, `uncorrelated_audio_fraction`, `max_frames`.
    """
    config = resolve_config(size, **overrides)
    seed = int(seed)
    world = _World(config, seed)
    h = world.hierarchy
    os.makedirs(output_dir, exist_ok=True)
    _clean(output_dir)
    train_counts = np.zeros(h.num_classes, np.int64)
    splits = {}
    patterns = {"frame": {}, "video": {}, "segment": {}}
    for split in SPLITS:
        n = config[f"num_{split}"]
        num_shards = config[f"{split}_shards"]
        kinds = ["frame", "video"]
        if split in config["segment_splits"]:
            kinds.append("segment")
        for kind in kinds:
            patterns[kind][split] = f"{kind}/{split}-*-of-{num_shards:05d}.tfrecord"
        stats = {"num_videos": n, "num_shards": num_shards, "num_frames": 0,
                 "num_uncorrelated_audio": 0, "num_segment_ratings": 0}
        meta_lines = []
        for shard, indices in enumerate(
                np.array_split(np.arange(n), num_shards)):
            records = {kind: [] for kind in kinds}
            for index in indices:
                v = _video(world, split, int(index), seed)
                frames = {"rgb": v["rgb"], "audio": v["audio"]}
                records["frame"].append(_serialize(writers.make_frame_example(
                    v["id"], v["labels"], frames)))
                records["video"].append(_serialize(writers.make_video_example(
                    v["id"], v["labels"],
                    {"mean_rgb": v["mean_rgb"],
                     "mean_audio": v["mean_audio"]})))
                if "segment" in records:
                    records["segment"].append(_serialize(
                        writers.make_frame_example(
                            v["id"], v["labels"], frames,
                            segments=v["segments"])))
                meta = v["meta"]
                meta_lines.append(json.dumps(meta, sort_keys=True))
                stats["num_frames"] += meta["num_frames"]
                stats["num_uncorrelated_audio"] += meta["uncorrelated_audio"]
                stats["num_segment_ratings"] += len(meta["segments"])
                if split == "train":
                    train_counts[meta["labels"]] += 1
            for kind, recs in records.items():
                writers.write_tfrecord(
                    os.path.join(output_dir, kind,
                                 shard_name(split, shard, num_shards)),
                    recs)
        os.makedirs(os.path.join(output_dir, "metadata"), exist_ok=True)
        _write_text(os.path.join(output_dir, "metadata", f"{split}.jsonl"),
                    "".join(line + "\n" for line in meta_lines))
        splits[split] = stats

    _write_text(os.path.join(output_dir, "taxonomy.csv"), h.taxonomy_csv())
    _write_text(os.path.join(output_dir, "vocabulary.csv"),
                h.vocabulary_csv(train_counts))
    manifest = {
        "generator": "yt8m.data.generate",
        "format_version": 1,
        "size": size,
        "seed": seed,
        "num_classes": h.num_classes,
        "num_leaves": len(h.leaves),
        "num_groups": len(h.groups),
        "hierarchy_levels": 3,
        "feature_names": ["rgb", "audio"],
        "feature_sizes": [config["rgb_size"], config["audio_size"]],
        "max_frames": config["max_frames"],
        "segment_size": SEGMENT_SIZE,
        "splits": splits,
        "patterns": patterns,
        "taxonomy": "taxonomy.csv",
        "vocabulary": "vocabulary.csv",
        "metadata": {s: f"metadata/{s}.jsonl" for s in SPLITS},
        "twin_pairs": sorted([a, b] for a, b in world.twin_of.items()
                             if a < b),
        "config": {k: list(v) if isinstance(v, tuple) else v
                   for k, v in sorted(config.items())},
    }
    _write_text(os.path.join(output_dir, "dataset.json"),
                json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
