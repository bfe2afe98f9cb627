"""train.py -> eval.py -> inference.py with a new family and its flags.

Proves `--model=TransformerModel` plus family flags reach the constructor,
are stored in model_flags.json, and that eval and inference rebuild the same
model from it without repeating them.
"""

import json
import os

from tests.training import helpers


def test_transformer_flags_round_trip_through_the_binaries(tmp_path):
    frame_glob, _ = helpers.write_frame_and_video_shards(
        tmp_path / "data", num_videos=16
    )
    train_dir = str(tmp_path / "model")
    helpers.run_binary(
        "train.py", f"--train_data_pattern={frame_glob}",
        f"--train_dir={train_dir}", "--model=TransformerModel",
        "--frame_features", "--feature_names=rgb,audio",
        f"--feature_sizes={helpers.RGB},{helpers.AUDIO}",
        f"--num_classes={helpers.NUM_CLASSES}",
        f"--max_frames={helpers.MAX_FRAMES}", "--batch_size=8",
        "--max_steps=2", "--export_model_steps=0", "--log_every_steps=1",
        "--fusion=early", "--transformer_pooling=cls",
        "--transformer_hidden_size=8", "--transformer_heads=2",
        "--transformer_ff_size=8", "--transformer_layers=1",
        "--late_fusion_hidden_size=8", "--netvlad_cluster_size=3",
    )
    flags = json.load(open(os.path.join(train_dir, "model_flags.json")))
    assert flags["model"] == "TransformerModel"
    config = flags["model_config"]
    assert config["fusion"] == "early"
    assert config["transformer_pooling"] == "cls"
    assert config["transformer_hidden_size"] == 8
    assert config["transformer_layers"] == 1
    # Flags of other families are not the Transformer's hyperparameters.
    assert "netvlad_cluster_size" not in config

    proc = helpers.run_binary(
        "eval.py", f"--train_dir={train_dir}",
        f"--eval_data_pattern={frame_glob}", "--run_once", "--batch_size=5",
    )
    assert any(
        line.startswith("epoch/eval number 2 |")
        for line in proc.stdout.splitlines()
    )
    results = json.load(
        open(os.path.join(train_dir, "eval", "eval_results.json"))
    )
    assert results["num_examples"] == 16

    out = str(tmp_path / "submission.csv")
    helpers.run_binary(
        "inference.py", f"--train_dir={train_dir}",
        f"--input_data_pattern={frame_glob}", f"--output_file={out}",
        "--batch_size=7", "--top_k=3",
    )
    lines = open(out, encoding="utf-8").read().splitlines()
    assert lines[0] == "VideoId,LabelConfidencePairs"
    assert len(lines) == 17
    for line in lines[1:]:
        assert len(line.split(",")[1].split(" ")) == 6


FAMILY_FLAGFILES = {
    "netvlad_willow.flags": "NetVLADModelLF",
    "nextvlad.flags": "NeXtVLADModel",
    "bigru_attention.flags": "BiGRUAttentionModel",
    "transformer_late.flags": "TransformerModel",
    "cross_modal_netvlad.flags": "CrossModalNetVLAD",
    "cross_modal_transformer.flags": "CrossModalTransformer",
    "cross_modal_rnn.flags": "CrossModalRNN",
}


def test_family_flagfiles_parse_and_name_only_known_hparams():
    import copy

    from absl import flags as absl_flags

    from yt8m.bin import train  # noqa: F401 (defines the train.py flags)
    from yt8m.models import all_hparam_declarations
    from yt8m.models import model_hparam_names

    for filename, model in FAMILY_FLAGFILES.items():
        path = os.path.join(helpers.ROOT, "experiments", filename)
        values = copy.deepcopy(absl_flags.FLAGS)
        values.unparse_flags()
        values(["train.py", f"--flagfile={path}"])
        assert values["model"].value == model
        hparams = set(model_hparam_names(model))
        for name in values:
            if values[name].present and name in all_hparam_declarations():
                assert name in hparams, (filename, name)
