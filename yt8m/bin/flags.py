"""absl flag definitions shared by the binaries (train.py, eval.py, inference.py).

Only `yt8m/bin/*` reads FLAGS. Model hyperparameter flags are derived from
the models' `HParam` declarations (`yt8m.hparams`); train.py hands each model
the ones it declares, and stores them in `model_flags.json` so eval and
inference rebuild the same model without repeating them.
"""

from absl import app
from absl import flags
from absl import logging

_DEFINE = {
    "integer": flags.DEFINE_integer,
    "float": flags.DEFINE_float,
    "string": flags.DEFINE_string,
    "boolean": flags.DEFINE_bool,
}

MODEL_MODULES_FLAG = "model_modules"


def import_model_modules(argv=None):
    """Imports the modules named by `--model_modules` before flags exist.

    A user's own models (registered with `yt8m.registry.register_model` in
    their module) must be imported before the flags are defined, so that
    their hyperparameters become flags too; this scans `argv` for
    `--model_modules=a.b,c.d` (or `--model_modules a.b`). Returns the list.
    """
    import importlib
    import sys

    argv = sys.argv if argv is None else argv
    names = []
    for i, arg in enumerate(argv):
        value = None
        if arg.startswith(f"--{MODEL_MODULES_FLAG}="):
            value = arg.split("=", 1)[1]
        elif arg == f"--{MODEL_MODULES_FLAG}" and i + 1 < len(argv):
            value = argv[i + 1]
        if value:
            names.extend(n.strip() for n in value.split(",") if n.strip())
    for name in names:
        importlib.import_module(name)
    return names


def define_model_hparam_flags(flag_values=flags.FLAGS):
    """One flag per declared model hyperparameter (yt8m.hparams).

    The declarations next to each model are the only place a default, type
    or help text is written; "submodel" hyperparameters are set by
    `--warm_start`, not by a flag of their own.
    """
    from yt8m import models

    if MODEL_MODULES_FLAG not in flag_values:
        flags.DEFINE_list(
            MODEL_MODULES_FLAG, [],
            "Python modules to import before looking up --model (your own "
            "models, registered with yt8m.registry.register_model). "
            "Recorded in model_flags.json, so eval.py and inference.py "
            "import them too.", flag_values=flag_values)
    for name, hparam in models.all_hparam_declarations().items():
        if hparam.kind == "submodel" or name in flag_values:
            continue
        help_text = hparam.help
        if hparam.choices:
            help_text += f" One of {list(hparam.choices)}."
        _DEFINE[hparam.kind](name, hparam.default, help_text,
                             flag_values=flag_values)


def model_hparams_from_flags(model_name):
    """The hyperparameter flag values the named model declares."""
    from yt8m import models

    names = models.model_hparam_names(model_name)
    return {
        name: flags.FLAGS[name].value
        for name in names
        if name in flags.FLAGS
    }


def define_common_reader_flags(batch_size_default, num_readers_default):
    flags.DEFINE_integer("batch_size", batch_size_default,
                         "How many examples to process per batch (per replica).")
    flags.DEFINE_integer("num_readers", num_readers_default,
                         "How many files to read in parallel.")
    flags.DEFINE_bool("segment_labels", False,
                      "If set, use the 2019 segment-level labels.")
    flags.DEFINE_bool("skip_bad_records", False,
                      "Skip (and count in the logs) malformed records instead "
                      "of stopping with an error naming the file and record.")


def run_main(main):
    """`app.run(main)`, with bad input reported as one clear line.

    A `DataError` (names the file, record and field) or a missing file ends
    the binary with exit code 1 and no traceback; other errors keep theirs.
    """

    def wrapped(argv):
        from yt8m.readers import DataError
        from yt8m.tf_install import check_single_tensorflow

        try:
            check_single_tensorflow()
        except RuntimeError as error:
            logging.error("%s", error)
            raise SystemExit(1) from None

        try:
            main(argv)
        except (DataError, FileNotFoundError) as error:
            logging.error("%s: %s", type(error).__name__, error)
            raise SystemExit(1) from None

    app.run(wrapped)
