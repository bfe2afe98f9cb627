"""Final-table configs from the tuning runs (tune split only).

MFB: its best tuning run's (lr, hparams); FC-concat: its best run's; the
audio-only / video-only / concat baselines use FC-concat's learning rate
(the same MoE head; they were not tuned separately).
"""
import json
import sys

runs = []
for path in sys.argv[1:-1]:
    runs += json.load(open(path))["runs"]
best = {}
for run in runs:
    if run["fusion"] not in best or run["gap"] > best[run["fusion"]]["gap"]:
        best[run["fusion"]] = run
fc, mfb = best["fc_concat"], best["mfb"]
hp = lambda run: {k: v for k, v in run["hparams"].items()  # noqa: E731
                  if k != "mfb_fusion"}
configs = [{"name": f, "fusion": f, "lr": fc["lr"]}
           for f in ("audio_only", "video_only", "concat")]
configs.append({"name": "fc_concat", "fusion": "fc_concat", "lr": fc["lr"],
                "hparams": hp(fc)})
configs.append({"name": "mfb", "fusion": "mfb", "lr": mfb["lr"],
                "hparams": hp(mfb)})
json.dump(configs, open(sys.argv[-1], "w"), indent=1)
print(json.dumps(configs))
