"""`yt8m-score`: scores a Kaggle submission CSV against labelled TFRecords.

  yt8m-score --submission_file=<csv> --data_pattern=<tfrecord glob> \
      [--format=auto|video|segment] [--num_classes=3862] [--top_k=20] \
      [--segment_k=100000] [--segment_label_ids_file=segment_label_ids.csv] \
      [--output_json=<path>]

The format comes from the header (`VideoId,LabelConfidencePairs`: GAP@top_k;
`Class,Segments`: MAP@segment_k over rated segments); `--format` insists on
one. Prints the metric line; with --output_json also writes the result
(per-class AP in segment mode). A malformed CSV or bad labels exit 1 with
one line naming the file, line/record and what is wrong. The metric
definitions are in `yt8m.evaluation.scoring` and docs/scoring.md.
"""

import argparse
import json
import sys

from yt8m.evaluation import scoring


def build_parser():
    parser = argparse.ArgumentParser(
        prog="yt8m-score", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--submission_file", required=True,
                        help="The Kaggle CSV (inference.py --output_file).")
    parser.add_argument(
        "--data_pattern", required=True,
        help="Labelled TFRecords (comma-separated globs allowed): video- or "
             "frame-level records with 'labels' for a video CSV; 2019 "
             "frame-level records with segment ratings for a segment CSV.")
    parser.add_argument("--format", default="auto",
                        choices=["auto", scoring.VIDEO_FORMAT,
                                 scoring.SEGMENT_FORMAT],
                        help="Submission format (default: from the header).")
    parser.add_argument("--num_classes", type=int,
                        default=scoring.DEFAULT_NUM_CLASSES,
                        help="Labels must lie in [0, num_classes).")
    parser.add_argument("--top_k", type=int, default=scoring.DEFAULT_TOP_K,
                        help="Video CSV: predictions per video for GAP@k.")
    parser.add_argument("--segment_k", type=int,
                        default=scoring.DEFAULT_SEGMENT_K,
                        help="Segment CSV: K of MAP@K (entries per class "
                             "line that count).")
    parser.add_argument("--segment_label_ids_file", default=None,
                        help="Segment CSV: average over these classes only "
                             "(segment_label_ids.csv, header 'Index').")
    parser.add_argument("--output_json", default=None,
                        help="Also write the result as JSON here.")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = scoring.score_submission(
            args.submission_file,
            args.data_pattern,
            kind=args.format,
            num_classes=args.num_classes,
            top_k=args.top_k,
            segment_k=args.segment_k,
            segment_label_ids_file=args.segment_label_ids_file,
        )
    except (scoring.SubmissionError, scoring.LabelsError, ValueError,
            OSError) as e:
        text = " ".join(str(e).split("\n"))
        print(f"yt8m-score: error: {text}", file=sys.stderr)
        return 1
    print(scoring.summary_line(result), flush=True)
    if args.output_json:
        from yt8m import files

        files.atomic_write_text(
            args.output_json, json.dumps(result, indent=2, sort_keys=True)
            + "\n")
        print(f"Wrote {args.output_json}", flush=True)
    return 0


def run():
    sys.exit(main())


if __name__ == "__main__":
    run()
