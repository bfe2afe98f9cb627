"""train.py: trains a YouTube-8M model (upstream flags, Keras 3 inside)."""

import os

from absl import app
from absl import flags
from absl import logging

from yt8m.bin import flags as yt8m_flags

FLAGS = flags.FLAGS

flags.DEFINE_string("train_dir", "/tmp/yt8m_model/",
                    "The directory to save the model files in.")
flags.DEFINE_string("train_data_pattern", "",
                    "File glob for the training dataset (comma-separated "
                    "globs allowed).")
flags.DEFINE_string("feature_names", "mean_rgb",
                    "Name of the feature to use for training.")
flags.DEFINE_string("feature_sizes", "1024", "Length of the feature vectors.")
flags.DEFINE_bool("frame_features", False,
                  "If set, then --train_data_pattern must be frame-level "
                  "features. Otherwise, video-level features.")
flags.DEFINE_string("model", "LogisticModel",
                    "Which architecture to use for the model.")
flags.DEFINE_bool("start_new_model", False,
                  "If set, this will not resume from a checkpoint and will "
                  "instead create a new model instance.")
flags.DEFINE_integer("num_gpu", 1,
                     "The maximum number of GPU devices to use for training.")
flags.DEFINE_string("label_loss", "CrossEntropyLoss",
                    "Which loss function to use for training the model.")
flags.DEFINE_float("regularization_penalty", 1.0,
                   "How much weight to give to the regularization loss.")
flags.DEFINE_float("base_learning_rate", 0.01,
                   "Which learning rate to start with.")
flags.DEFINE_float("learning_rate_decay", 0.95,
                   "Learning rate decay factor to be applied every "
                   "learning_rate_decay_examples.")
flags.DEFINE_float("learning_rate_decay_examples", 4000000,
                   "Multiply current learning rate by learning_rate_decay "
                   "every learning_rate_decay_examples.")
flags.DEFINE_integer("num_epochs", 5,
                     "How many passes to make over the dataset before halting "
                     "training.")
flags.DEFINE_integer("max_steps", None,
                     "The maximum number of iterations of the training loop.")
flags.DEFINE_integer("export_model_steps", 1000,
                     "Export an inference SavedModel every N steps "
                     "(0 disables), in the background.")
flags.DEFINE_string("optimizer", "AdamOptimizer",
                    "What optimizer class to use (upstream TF1 names such as "
                    "AdamOptimizer, or Keras names such as adam, adamw).")
flags.DEFINE_float("clip_gradient_norm", 1.0,
                   "Norm to clip each variable's gradient to (<= 0 disables).")
flags.DEFINE_float("batch_norm_momentum", None,
                   "Moving-average momentum of every batch-norm layer while "
                   "training (default: the model's, slim's 0.999). The "
                   "moving statistics lag far behind the weights in short "
                   "runs at 0.999; use e.g. 0.9 for a few hundred steps.")
flags.DEFINE_bool("log_device_placement", False,
                  "Whether to write the device on which every op will run "
                  "into the logs on startup.")
flags.DEFINE_integer("num_classes", 3862,
                     "Number of classes (3862 for 2018/2019 data, 4716 for "
                     "2017 data).")
flags.DEFINE_integer("max_frames", 300,
                     "Frames per video after truncation/zero-padding.")
flags.DEFINE_integer("max_to_keep", 5,
                     "Checkpoints to keep (0 keeps all).")
flags.DEFINE_integer("save_checkpoint_steps", 1000,
                     "Save a checkpoint every N steps.")
flags.DEFINE_float("save_checkpoint_secs", 900.0,
                   "Save a checkpoint every N seconds (upstream: 15 min).")
flags.DEFINE_enum("mixed_precision", "float32",
                  ["float32", "mixed_bfloat16", "mixed_float16"],
                  "Keras dtype policy for training: mixed_bfloat16 (CPUs with "
                  "AVX512_BF16/AMX, TPUs, Ampere+ GPUs) or mixed_float16 "
                  "(GPUs; dynamic loss scaling). Variables, the loss, the "
                  "metrics and the classifier's softmax/sigmoid stay "
                  "float32; eval/inference/export run in float32.")
flags.DEFINE_bool("jit_compile", False,
                  "XLA-compile the forward and backward pass (usually a win "
                  "on GPUs; measure on CPUs: see README, Performance).")
flags.DEFINE_bool("remat", False,
                  "Rematerialise the Transformer blocks and bidirectional "
                  "RNNs: store their inputs only and recompute their "
                  "activations in the backward pass (memory for about one "
                  "extra forward pass of those layers; see README, "
                  "Performance).")
flags.DEFINE_integer("microbatch_size", 0,
                     "Accumulate each replica's gradient over micro-batches "
                     "of at most this many examples, run one after another, "
                     "and update once per batch: peak memory grows with the "
                     "micro-batch, not the batch (0: off; see README, "
                     "Performance).")
flags.DEFINE_integer("log_every_steps", 10, "Log training metrics every N steps.")
flags.DEFINE_integer("shuffle_seed", None, "Seed for shuffling files/records.")
flags.DEFINE_bool("progress_bar", None,
                  "Show a progress bar (default: when stdout is a terminal).")
yt8m_flags.define_common_reader_flags(batch_size_default=1024,
                                      num_readers_default=8)
flags.DEFINE_multi_string(
    "warm_start", [],
    "SLOT=DIR: initialise the model's sub-model SLOT (a 'submodel' "
    "hyperparameter) from the model trained in DIR (its train_dir, or a "
    ".keras file). Its architecture is read from DIR/model_flags.json and "
    "recorded in this train_dir's model_flags.json; its weights are loaded "
    "only when training starts fresh, so eval.py, inference.py and the "
    "export never need DIR. Repeat for several slots.")
flags.DEFINE_string(
    "correlation_tower_dir", "",
    "A trained CorrelationTower / VideoCorrelationTower train_dir for a "
    "cross-modal model (shorthand for --warm_start=correlation_tower=DIR). "
    "Unset: a model that needs a tower gets one trained first into "
    "train_dir/correlation_tower (see --correlation_tower_steps).")
flags.DEFINE_integer(
    "correlation_tower_steps", 1000,
    "Steps of the correlation tower train.py trains first for a "
    "cross-modal model when no tower is given (its hyperparameters: the "
    "tower flags, e.g. --taxonomy_file, --negative_weight).")
yt8m_flags.import_model_modules()  # a user's models, before their flags
yt8m_flags.define_model_hparam_flags()


def _legacy_segment_max_frames(max_frames):
    """Keeps a segment train_dir's stored `max_frames=5` when resuming.

    train.py used to write the segment size (5) as `max_frames` in segment
    mode; readers treat that value as the 300-frame budget
    (`model_inputs.reader_max_frames`), so resuming such a train_dir keeps
    it instead of failing the model-flags check.
    """
    if not FLAGS.segment_labels or FLAGS.start_new_model:
        return max_frames
    import json

    from yt8m import config as config_lib
    from yt8m.readers import model_inputs

    path = config_lib.model_flags_path(FLAGS.train_dir)
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f).get("max_frames")
    except (OSError, ValueError, AttributeError):
        return max_frames
    if (stored == model_inputs.SEGMENT_SIZE
            and max_frames == model_inputs.DEFAULT_MAX_FRAMES):
        return stored
    return max_frames


def config_from_flags():
    from yt8m import config as config_lib
    from yt8m.readers import get_list_of_feature_names_and_sizes

    names, sizes = get_list_of_feature_names_and_sizes(
        FLAGS.feature_names, FLAGS.feature_sizes
    )
    from yt8m import models

    models.get_model_class(FLAGS.model)  # fails early, listing the names
    # The reader's frame budget: whole videos, also in segment mode (the
    # model's 5-frame input length is model_inputs.model_max_frames).
    max_frames = _legacy_segment_max_frames(FLAGS.max_frames)
    spec = config_lib.ModelSpec(
        model=FLAGS.model,
        feature_names=names,
        feature_sizes=sizes,
        frame_features=FLAGS.frame_features or FLAGS.segment_labels,
        label_loss=FLAGS.label_loss,
        num_classes=FLAGS.num_classes,
        max_frames=max_frames,
        model_hparams=yt8m_flags.model_hparams_from_flags(FLAGS.model),
        model_modules=list(FLAGS.model_modules),
    )
    from yt8m.training import warm_start

    from yt8m.training import correlation

    warm = correlation.add_tower_dir(
        warm_start.parse_warm_start_flags(FLAGS.warm_start),
        FLAGS.correlation_tower_dir)
    warm_start.add_submodel_specs(spec, warm, FLAGS.train_dir,
                                  FLAGS.start_new_model)
    if not FLAGS.train_data_pattern:
        raise app.UsageError("--train_data_pattern is required.")
    return config_lib.TrainConfig(
        train_dir=FLAGS.train_dir,
        train_data_pattern=FLAGS.train_data_pattern,
        spec=spec,
        segment_labels=FLAGS.segment_labels,
        batch_size=FLAGS.batch_size,
        num_epochs=FLAGS.num_epochs,
        max_steps=FLAGS.max_steps,
        regularization_penalty=FLAGS.regularization_penalty,
        base_learning_rate=FLAGS.base_learning_rate,
        learning_rate_decay=FLAGS.learning_rate_decay,
        learning_rate_decay_examples=FLAGS.learning_rate_decay_examples,
        optimizer=FLAGS.optimizer,
        clip_gradient_norm=FLAGS.clip_gradient_norm,
        batch_norm_momentum=FLAGS.batch_norm_momentum,
        num_readers=FLAGS.num_readers,
        start_new_model=FLAGS.start_new_model,
        max_to_keep=FLAGS.max_to_keep,
        save_checkpoint_steps=FLAGS.save_checkpoint_steps,
        save_checkpoint_secs=FLAGS.save_checkpoint_secs,
        export_model_steps=FLAGS.export_model_steps,
        log_every_steps=FLAGS.log_every_steps,
        shuffle_seed=FLAGS.shuffle_seed,
        skip_bad_records=FLAGS.skip_bad_records,
        num_gpu=FLAGS.num_gpu,
        progress_bar=FLAGS.progress_bar,
        warm_start=warm,
        mixed_precision=FLAGS.mixed_precision,
        jit_compile=FLAGS.jit_compile,
        remat=FLAGS.remat,
        microbatch_size=FLAGS.microbatch_size,
    )


def main(argv):
    del argv
    logging.set_verbosity(logging.INFO)
    import tensorflow as tf

    if FLAGS.log_device_placement:
        tf.debugging.set_log_device_placement(True)
    cfg = config_from_flags()
    from yt8m.training import correlation
    from yt8m.training import loop

    # A cross-modal model without a tower: train one first (logged).
    cfg = correlation.ensure_correlation_tower(
        cfg,
        yt8m_flags.model_hparams_from_flags(
            correlation.tower_model_for(cfg.spec.frame_features)),
        FLAGS.correlation_tower_steps,
    )

    result = loop.train(cfg)
    print(
        f"Training finished at step {result['step']} "
        f"({result['stopped_by']}); checkpoints in "
        f"{os.path.abspath(cfg.train_dir)}",
        flush=True,
    )


def run():
    yt8m_flags.run_main(main)


if __name__ == "__main__":
    run()
