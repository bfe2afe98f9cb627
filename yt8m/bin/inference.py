"""inference.py: writes a Kaggle submission CSV from a trained model."""

from absl import app
from absl import flags
from absl import logging

from yt8m.bin import flags as yt8m_flags

FLAGS = flags.FLAGS

flags.DEFINE_string("train_dir", "",
                    "The directory to load the model from (train.py's "
                    "--train_dir; eval.py's inference_model is used if "
                    "present, else the latest checkpoint).")
flags.DEFINE_string("input_model_tgz", "",
                    "If given, must be path to a .tgz file that was written "
                    "by this binary using flag --output_model_tgz.")
flags.DEFINE_string("untar_model_dir", "/tmp/yt8m-model",
                    "If --input_model_tgz is given, then this directory will "
                    "be created and the contents of the .tgz file will be "
                    "untarred here.")
flags.DEFINE_string("input_data_pattern", "",
                    "File glob defining the evaluation dataset in tensorflow."
                    "SequenceExample format.")
flags.DEFINE_string("output_file", "",
                    "The file to save the predictions to.")
flags.DEFINE_string("output_model_tgz", "",
                    "If given, should be a filename with a .tgz extension, "
                    "the model graph and checkpoint will be bundled in this "
                    "gzip tar.")
flags.DEFINE_integer("top_k", 20, "How many predictions to output per video.")
flags.DEFINE_string("predictions_file", None,
                    "If set, also write every class's score for every video "
                    "there (.npz, see yt8m/evaluation/predictions.py; input "
                    "of yt8m-ensemble). Video-level mode only.")
flags.DEFINE_integer("segment_max_pred", 100000,
                     "Limit total number of segment outputs per entity.")
flags.DEFINE_string("segment_label_ids_file", None,
                    "Whitelist of segment classes (segment_label_ids.csv, "
                    "header 'Index'). Local paths only; upstream downloaded "
                    "it from GitHub.")
yt8m_flags.define_common_reader_flags(batch_size_default=512,
                                      num_readers_default=1)


def config_from_flags():
    from yt8m import config as config_lib

    if not FLAGS.input_data_pattern:
        raise app.UsageError("--input_data_pattern is required.")
    if not FLAGS.output_file:
        raise app.UsageError("--output_file is required.")
    if bool(FLAGS.train_dir) == bool(FLAGS.input_model_tgz):
        raise app.UsageError(
            "Give exactly one of --train_dir and --input_model_tgz.")
    return config_lib.InferenceConfig(
        input_data_pattern=FLAGS.input_data_pattern,
        output_file=FLAGS.output_file,
        train_dir=FLAGS.train_dir,
        input_model_tgz=FLAGS.input_model_tgz,
        untar_model_dir=FLAGS.untar_model_dir,
        output_model_tgz=FLAGS.output_model_tgz,
        segment_labels=FLAGS.segment_labels,
        segment_max_pred=FLAGS.segment_max_pred,
        segment_label_ids_file=FLAGS.segment_label_ids_file,
        top_k=FLAGS.top_k,
        batch_size=FLAGS.batch_size,
        num_readers=FLAGS.num_readers,
        skip_bad_records=FLAGS.skip_bad_records,
        predictions_file=FLAGS.predictions_file,
    )


def main(argv):
    del argv
    logging.set_verbosity(logging.INFO)
    cfg = config_from_flags()
    from yt8m import inference

    count = inference.run_inference(cfg)
    print(f"Wrote {cfg.output_file} ({count} "
          f"{'segments' if cfg.segment_labels else 'videos'}).", flush=True)


def run():
    yt8m_flags.run_main(main)


if __name__ == "__main__":
    run()
