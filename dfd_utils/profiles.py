"""Profiles: small overlays on one base, merged into the study's ``params.yaml``.

``profiles/demo.yaml`` is the base: every key of the study, with a comment each (the
default ``dvc repro``). Every other profile holds only what differs from it
(``smoke``: seconds for the tests; ``paper``: DFDC, ResNet50, a GPU), so a new key is
added once and no profile drifts. ``python -m dfd_utils.profiles paper`` (``make
profile PROFILE=paper``) writes the merged result to ``params.yaml``, keeping the
base's comments; DVC reads only that file.

Merging: mappings merge key by key, recursively; anything else (a number, a list such
as ``evaluate.threshold_grid``) replaces the base's value. An overlay key the base
lacks is refused: it would be a typo, or a key the typed configuration refuses.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
from pathlib import Path

import yaml

from dfd_utils.io import atomic_path
from dfd_utils.paths import project_root

BASE = "demo"


def profiles_dir() -> Path:
    return project_root() / "profiles"


def names() -> list[str]:
    """Every profile under ``profiles/``, the base first."""
    found = sorted(p.stem for p in profiles_dir().glob("*.yaml"))
    return [BASE, *(n for n in found if n != BASE)]


def check_name(name) -> str:
    """A profile's name is a name (letters, digits, ``_``, ``-``), never a path: ``../x`` or ``/etc/x`` is refused."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
        raise ValueError(f"profile {ascii(name)} is not a profile name (letters, digits, _ and -; not a "
                         f"path); the profiles are: {', '.join(names())}")
    return name


def read_profile(name: str) -> dict:
    """The raw file of one profile (the base in full, an overlay's differences)."""
    check_name(name)
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such profile; the profiles are: {', '.join(names())}")
    from dfd_utils.pipeline import load_yaml_file  # pipeline imports this module: read it when it is loaded

    values = load_yaml_file(path) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of parameter sections")
    return values


def overlay(base: dict, over: dict, where: str = "") -> dict:
    """``base`` with ``over`` on top: mappings merge recursively, other values replace."""
    merged = dict(base)
    for key, value in over.items():
        dotted = f"{where}.{key}" if where else str(key)
        if key not in base:
            raise KeyError(f"{dotted}: not a key of the base profile {BASE!r} (a typo, or add it there first)")
        if isinstance(value, dict) and isinstance(base[key], dict) and base[key]:
            merged[key] = overlay(base[key], value, dotted)
        else:
            merged[key] = value
    return merged


def resolve(name: str) -> dict:
    """The complete parameters of profile ``name``: the base with the overlay on top."""
    base = read_profile(BASE)
    if name == BASE:
        return base
    try:
        return overlay(base, read_profile(name))
    except KeyError as err:
        raise ValueError(f"{profiles_dir() / f'{name}.yaml'}: {err.args[0]}") from None


def render(name: str) -> str:
    """``params.yaml`` for profile ``name``: the base file's text and comments, the overlay's values."""
    from ruamel.yaml import YAML  # round-trip YAML keeps the base's comments; it comes with DVC

    rt = YAML()  # DVC's own layout (dvc.utils.serialize): `dvc exp run -S` then rewrites one line, not the file
    rt.default_flow_style = False
    doc = rt.load((profiles_dir() / f"{BASE}.yaml").read_text())

    def apply(node, over):
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(node.get(key), dict) and node[key]:
                apply(node[key], value)
            else:
                node[key] = value

    if name != BASE:
        apply(doc, read_profile(name))
    out = io.StringIO()
    rt.dump(doc, out)
    made_from = f"profiles/{BASE}.yaml" + ("" if name == BASE else f" + profiles/{name}.yaml")
    header = (f"# GENERATED from {made_from} by `make profile PROFILE={name}`:\n"
              f"# edit the profiles, not this file (or set one value with `dvc exp run -S key=value`).\n")
    text = out.getvalue()
    if yaml.safe_load(text) != resolve(name):  # the round trip must say exactly what the merge says
        raise RuntimeError(f"profile {name}: the rendered params.yaml differs from the merged profile")
    return header + text


def write_params(name: str, path: str | os.PathLike | None = None) -> Path:
    """Check profile ``name`` with the typed configuration, then write it to ``params.yaml``."""
    from dfd_utils.config import parse

    check_name(name)

    parse(resolve(name), f"profiles/{name}.yaml (over {BASE})")
    path = Path(path) if path is not None else project_root() / "params.yaml"
    text = render(name)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Merge a profile over the base and write params.yaml.")
    parser.add_argument("profile", help=f"one of {', '.join(names())}")
    parser.add_argument("--out", help="where to write (default: the project's params.yaml)")
    args = parser.parse_args(argv)
    from dfd_utils.config import ConfigError

    try:
        path = write_params(args.profile, args.out)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"dfd profiles: {err}", file=sys.stderr)
        return 2
    print(f"{path} is now the {args.profile} profile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
