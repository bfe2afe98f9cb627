"""Hyperparameter declarations: each one is declared once, here or next to
the code that uses it, with its default, type, constraint and help.

A model class lists its declarations in `HPARAMS`; its constructor takes
them as keyword arguments and `resolve` fills in defaults and checks them
eagerly ("expected X, received Y"). The binaries derive their absl flags
from the same declarations (`yt8m.bin.flags`), so a default or a help text
exists in exactly one place. A name shared by several models (the
classifier head's `moe_num_mixtures`, `fusion`, `iterations`) is one
`HParam` object imported by each of them; two different declarations of
one name are refused when the second model registers.

Kinds: "integer", "float", "string", "boolean", and "submodel" (a nested
model's `model_flags.json` dict, set by `--warm_start`, never a flag).
"""

import dataclasses
import numbers
import types

KINDS = ("integer", "float", "string", "boolean", "submodel")
CHECKS = (None, "positive", "non_negative", "rate")


@dataclasses.dataclass(frozen=True)
class HParam:
    """One hyperparameter.

    Attributes:
      name: the constructor argument and flag name.
      kind: one of `KINDS`.
      default: the default value (None allowed: "the model decides").
      help: one line for `--help` and the generated docs.
      check: None, "positive" (> 0), "non_negative" (>= 0) or "rate"
        ([0, 1)).
      choices: allowed values for a string.
    """

    name: str
    kind: str
    default: object
    help: str
    check: str = None
    choices: tuple = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"HParam {self.name!r}: expected a kind in {KINDS}. "
                f"Received: kind={self.kind!r}"
            )
        if self.check not in CHECKS:
            raise ValueError(
                f"HParam {self.name!r}: expected a check in {CHECKS}. "
                f"Received: check={self.check!r}"
            )
        if self.default is not None:
            self.validate(self.default, owner="HParam default")

    def validate(self, value, owner=""):
        """Returns `value` (ints widened to float for floats) or raises."""
        where = f" of {owner}" if owner else ""
        if value is None and (self.default is None or self.kind == "submodel"):
            return None
        expected = None
        if self.kind == "integer":
            ok = isinstance(value, numbers.Integral) and not isinstance(
                value, bool
            )
            expected = "an integer"
        elif self.kind == "float":
            ok = isinstance(value, numbers.Real) and not isinstance(
                value, bool
            )
            expected = "a number"
        elif self.kind == "boolean":
            ok = isinstance(value, bool)
            expected = "True or False"
        elif self.kind == "string":
            ok = isinstance(value, str)
            expected = "a string"
        else:  # submodel
            ok = isinstance(value, dict) and "model" in value
            expected = "a model_flags.json dict (with a 'model' key)"
        if ok and self.check == "positive":
            ok, expected = value > 0, f"a positive {self.kind}"
        elif ok and self.check == "non_negative":
            ok, expected = value >= 0, f"a non-negative {self.kind}"
        elif ok and self.check == "rate":
            ok, expected = 0.0 <= value < 1.0, "a number in [0, 1)"
        if ok and self.choices is not None:
            ok, expected = value in self.choices, f"one of {list(self.choices)}"
        if not ok:
            raise ValueError(
                f"Invalid value for argument `{self.name}`{where}: expected "
                f"{expected}. Received: {self.name}={value!r}"
            )
        if self.kind == "integer":
            return int(value)
        if self.kind == "float":
            return float(value)
        return value

    def doc_line(self):
        default = "None" if self.default is None else repr(self.default)
        return f"{self.name}: {self.help} Default {default}."


def declare(*hparams):
    """A tuple of `HParam`s, refusing two with one name."""
    seen = set()
    for hparam in hparams:
        if not isinstance(hparam, HParam):
            raise TypeError(f"expected HParam objects, received {hparam!r}")
        if hparam.name in seen:
            raise ValueError(f"HParam {hparam.name!r} is declared twice.")
        seen.add(hparam.name)
    return tuple(hparams)


def merge(declarations, owner):
    """{name: HParam} over iterables of declarations, refusing conflicts."""
    merged = {}
    for group in declarations:
        for hparam in group:
            existing = merged.get(hparam.name)
            if existing is not None and existing != hparam:
                raise ValueError(
                    f"{owner}: hyperparameter {hparam.name!r} is declared "
                    f"twice with different settings: {existing} and "
                    f"{hparam}. Declare it once and import it."
                )
            merged[hparam.name] = hparam
    return merged


def resolve(declarations, values, owner):
    """Checked values for every declared hparam (defaults filled in).

    Args:
      declarations: {name: HParam}.
      values: the given {name: value}; every key must be declared.
      owner: the model name, for messages.

    Returns:
      a `types.SimpleNamespace` with one attribute per declaration.

    Raises:
      ValueError: an undeclared name (listing the declared ones), or a
        value that fails its declaration's type or constraint.
    """
    unknown = sorted(set(values) - set(declarations))
    if unknown:
        raise ValueError(
            f"{owner} has no hyperparameter(s) {unknown}. Its "
            f"hyperparameters are: {sorted(declarations)}."
        )
    resolved = {}
    for name, hparam in declarations.items():
        value = values.get(name, hparam.default)
        resolved[name] = hparam.validate(value, owner=owner)
    return types.SimpleNamespace(**resolved)


def docstring(declarations):
    """`Hyperparameters:` section lines for a class docstring."""
    lines = ["", "    Hyperparameters (yt8m.hparams; each is also a flag):"]
    for hparam in declarations.values():
        lines.append(f"      {hparam.doc_line()}")
    return "\n".join(lines) + "\n"
