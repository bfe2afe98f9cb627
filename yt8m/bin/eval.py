"""eval.py: evaluates checkpoints (GAP@20, MAP, PERR, Hit@1)."""

from absl import app
from absl import flags
from absl import logging

from yt8m.bin import flags as yt8m_flags

FLAGS = flags.FLAGS

flags.DEFINE_string("train_dir", "/tmp/yt8m_model/",
                    "The directory to load the model files from (needs "
                    "model_flags.json written by train.py).")
flags.DEFINE_string("eval_data_pattern", "",
                    "File glob defining the evaluation dataset.")
flags.DEFINE_bool("run_once", False, "Whether to run eval only once.")
flags.DEFINE_integer("top_k", 20, "How many predictions to output per video "
                     "(GAP@k and MAP use it).")
flags.DEFINE_float("eval_interval_secs", 60.0,
                   "Without --run_once: seconds between checks for a new "
                   "checkpoint.")
flags.DEFINE_float("eval_timeout_secs", None,
                   "Without --run_once: stop after this many seconds with no "
                   "new checkpoint (default: wait forever).")
flags.DEFINE_string("taxonomy_file", None,
                    "vocabulary.csv (official) or taxonomy.csv (Index,Name,"
                    "Path): adds per-level and per-category metrics and "
                    "label names.")
flags.DEFINE_string("report_dir", None,
                    "If set, write an HTML report with plots there.")
flags.DEFINE_string("checkpoint", None,
                    "Evaluate this checkpoint instead of the latest one.")
flags.DEFINE_string("predictions_file", None,
                    "If set, also write every class's score for every "
                    "evaluated video there (.npz, see "
                    "yt8m/evaluation/predictions.py; input of yt8m-ensemble).")
yt8m_flags.define_common_reader_flags(batch_size_default=1024,
                                      num_readers_default=8)


def config_from_flags():
    from yt8m import config as config_lib

    if not FLAGS.eval_data_pattern:
        raise app.UsageError("--eval_data_pattern is required.")
    return config_lib.EvalConfig(
        train_dir=FLAGS.train_dir,
        eval_data_pattern=FLAGS.eval_data_pattern,
        segment_labels=FLAGS.segment_labels,
        batch_size=FLAGS.batch_size,
        num_readers=FLAGS.num_readers,
        run_once=FLAGS.run_once,
        top_k=FLAGS.top_k,
        eval_interval_secs=FLAGS.eval_interval_secs,
        eval_timeout_secs=FLAGS.eval_timeout_secs,
        skip_bad_records=FLAGS.skip_bad_records,
        taxonomy_file=FLAGS.taxonomy_file,
        report_dir=FLAGS.report_dir,
        checkpoint=FLAGS.checkpoint,
        predictions_file=FLAGS.predictions_file,
    )


def main(argv):
    del argv
    logging.set_verbosity(logging.INFO)
    cfg = config_from_flags()
    from yt8m import evaluation

    evaluation.evaluate(cfg)


def run():
    yt8m_flags.run_main(main)


if __name__ == "__main__":
    run()
