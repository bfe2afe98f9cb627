"""`yt8m-ensemble`: combines several models' predictions into one submission.

  yt8m-ensemble --inputs=a.npz,b.npz[,c.csv] --output_file=ensemble.csv \
      [--method=average|gap] \
      [--validation_files=a_val.npz,b_val.npz --validation_data_pattern=<val tfrecords>] \
      [--weights=0.3,0.7] [--data_pattern=<labelled tfrecords of the inputs' videos>] \
      [--num_classes=3862] [--top_k=20] [--output_json=result.json] \
      [--output_predictions_file=ensemble.npz]

Inputs are Kaggle CSVs (inference.py --output_file; top-k only) or full
prediction files (eval.py / inference.py --predictions_file). `--method=gap`
weights member i by its validation GAP@k over the sum (Algorithm 2 of the
Deep Multimodal Learning paper); the validation files are the same models'
predictions on a labelled validation split, in the order of --inputs, and
must not share videos with the inputs. With --data_pattern the members' and
the ensemble's metrics are printed (and written with --output_json). See
`yt8m.evaluation.ensemble` and docs/mfb.md.
"""

import argparse
import json
import sys

from yt8m.evaluation import ensemble
from yt8m.evaluation import scoring


def _list(text):
    return [v for v in text.split(",") if v] if text else []


def build_parser():
    parser = argparse.ArgumentParser(
        prog="yt8m-ensemble", description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", required=True,
                        help="Comma-separated member files (CSV or .npz).")
    parser.add_argument("--output_file", required=True,
                        help="The ensemble's Kaggle CSV.")
    parser.add_argument("--method", default="average",
                        choices=list(ensemble.METHODS))
    parser.add_argument("--validation_files", default="",
                        help="--method=gap: the members' predictions on a "
                             "validation split, in the order of --inputs.")
    parser.add_argument("--validation_data_pattern", default=None,
                        help="--method=gap: labelled TFRecords of the "
                             "validation files' videos.")
    parser.add_argument("--weights", default="",
                        help="Explicit weights (normalised), instead of "
                             "--method.")
    parser.add_argument("--data_pattern", default=None,
                        help="Labelled TFRecords of the inputs' videos: "
                             "prints each member's and the ensemble's "
                             "metrics.")
    parser.add_argument("--num_classes", type=int,
                        default=scoring.DEFAULT_NUM_CLASSES)
    parser.add_argument("--top_k", type=int, default=scoring.DEFAULT_TOP_K)
    parser.add_argument("--output_json", default=None)
    parser.add_argument("--output_predictions_file", default=None)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        weights = [float(w) for w in _list(args.weights)] or None
        result = ensemble.run(
            _list(args.inputs), args.output_file, method=args.method,
            validation_files=_list(args.validation_files),
            validation_data_pattern=args.validation_data_pattern,
            weights=weights, data_pattern=args.data_pattern,
            num_classes=args.num_classes, top_k=args.top_k,
            output_predictions_file=args.output_predictions_file,
        )
    except (ensemble.EnsembleError, scoring.SubmissionError,
            scoring.LabelsError, ValueError, OSError) as e:
        text = " ".join(str(e).split("\n"))
        print(f"yt8m-ensemble: error: {text}", file=sys.stderr)
        return 1
    for line in ensemble.summary_lines(result):
        print(line, flush=True)
    if args.output_json:
        from yt8m import files

        files.atomic_write_text(
            args.output_json, json.dumps(result, indent=2) + "\n")
    return 0


def run():
    sys.exit(main())


if __name__ == "__main__":
    run()
