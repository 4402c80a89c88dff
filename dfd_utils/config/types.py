"""Each value of ``params.yaml`` checked against its dataclass field's type at load, naming the dotted key.

The dataclasses check their own ranges, but ``class_weighting: "false"`` (a string,
true in Python), ``data.dfdc_path: [1, 2]``, ``lr: .inf`` or ``seed: 2**64`` would pass
those checks or fail minutes later without the key. Here every value is checked against
its field's annotation before the dataclass is built: a ``bool`` is a boolean, an
``int`` a whole number (not a boolean) that fits 64 bits, a ``float`` a finite number,
a ``str`` a string, a tuple a list of such values.
"""

from __future__ import annotations

import math
import re
from dataclasses import fields

INT_LIMITS = {"seed": (0, 2**32 - 1)}  # numpy's and Python's generators take seeds below 2**32 everywhere
INT_RANGE = (-(2**63), 2**63 - 1)


def _problem(kind: str, value, key: str) -> str | None:
    """Why ``value`` is not of annotation ``kind`` (a string such as ``'int'`` or ``'tuple[float, ...]'``)."""
    kind = kind.replace(" ", "")
    if kind.endswith("|None"):
        return None if value is None else _problem(kind[:-5], value, key)
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false (a YAML boolean), got {value!r}"
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
        low, high = INT_LIMITS.get(key, INT_RANGE)
        if value > high or value < low:
            return f"must be {'<=' if value > high else '>='} {high if value > high else low}, got {value!r}"
        return None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if isinstance(value, int) and abs(value) > 2**63:
            return f"must be a number within +-2**63, got {value!r}"
        return None
    if kind == "str":
        return None if isinstance(value, str) else f"must be text (a string), got {type(value).__name__} {value!r}"
    if kind == "dict":
        return None if value is None or isinstance(value, dict) else f"must be a mapping, got {value!r}"
    match = re.fullmatch(r"tuple\[(.*)\]", kind)
    if match:
        if not isinstance(value, (list, tuple)):
            return f"must be a list, got {type(value).__name__} {value!r}"
        inner = match.group(1).split(",")
        for i, item in enumerate(value):
            problem = _problem(inner[0] if inner[-1] == "..." else inner[min(i, len(inner) - 1)], item, key)
            if problem:
                return f"item {i}: {problem}"
        return None
    return None  # a nested configuration, built and checked by its own section


def type_problem(cls, values: dict, where: str, dotted: bool = True) -> str | None:
    """The first value of ``values`` whose type does not fit its field of ``cls``: ``where.key must be ...``
    (``where: key must be ...`` when ``where`` is a file rather than a section)."""
    kinds = {f.name: f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "") for f in fields(cls)}
    for key, value in values.items():
        if key in kinds:
            problem = _problem(kinds[key], value, key)
            if problem:
                return f"{where}.{key} {problem}" if dotted else f"{where}: {key} {problem}"
    return None


CLIP_RANGES = {"height": (16, 8192), "width": (16, 8192), "fps": (0, 240), "duration_s": (0, 3600)}  # (low, high]
# for the generated clips (data.synthetic, data.faces): the frame stages need at least 16 pixels a side


def clip_problem(values: dict, where: str, num_frames: int | None = None) -> str | None:
    """A generated clip set's size, rate or length out of range (or too few frames for ``num_frames``), dotted."""
    for key, (low, high) in CLIP_RANGES.items():
        value = values.get(key)
        if value is not None and not (value > low if key in ("fps", "duration_s") else value >= low) or (
                value is not None and value > high):
            bound = f"> {low}" if key in ("fps", "duration_s") else f">= {low}"
            return f"{where}.{key} must be {bound} and <= {high}, got {value!r}"
    if num_frames is not None and "fps" in values and "duration_s" in values:
        frames = max(int(round(values["fps"] * values["duration_s"])), 1)
        if frames < num_frames:
            return (f"{where}.duration_s: {values['duration_s']!r} s at {values['fps']!r} fps makes {frames} frames, "
                    f"fewer than the {num_frames} of frames.num_frames")
    return None

