"""The ``kaggle`` source: download DFDC with the official Kaggle API, then select.

Needs credentials in any form kaggle 2.x accepts (an API token: ``$KAGGLE_API_TOKEN``,
a value or a file, or ``~/.kaggle/access_token``; a legacy key: ``kaggle.json`` in
``~/.kaggle``, ``~/.config/kaggle`` or ``$KAGGLE_CONFIG_DIR``, or ``KAGGLE_USERNAME`` +
``KAGGLE_KEY``), the competition rules accepted on the website, and a network. Without
any of them it stops with one message saying what to do; the download goes to a temp
folder and is moved into place only when complete; no secret is ever printed.

What the download holds: the competition archive has ``train_sample_videos/`` (400
labelled clips, with ``metadata.json``) and ``test_videos/`` (400 unlabelled clips). The
paper's 825 clips came from the full training set: 50 parts ``dfdc_train_part_0.zip``
.. ``dfdc_train_part_49.zip`` (470 GB), linked from the competition's Data page. Put
the parts you download under ``data/dfdc/`` and use ``data.source: dfdc``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

COMPETITION = "deepfake-detection-challenge"
RULES_URL = f"https://www.kaggle.com/c/{COMPETITION}/rules"


class KaggleSetupError(RuntimeError):
    """Something the user must fix before the download can work."""


SAMPLE_NOTE = ("The competition download holds train_sample_videos/ (400 labelled clips) and test_videos/ "
               "(unlabelled). The paper's 825 clips need the training parts dfdc_train_part_0.zip .. _49.zip "
               "(linked from the competition's Data page): put them under data/dfdc/ and use data.source: dfdc.")


def credential_files() -> list[Path]:
    dirs = [os.environ.get("KAGGLE_CONFIG_DIR"), Path.home() / ".kaggle", Path.home() / ".config" / "kaggle"]
    return [Path(d) / "kaggle.json" for d in dirs if d]


def token_files() -> list[Path]:
    return [Path.home() / ".kaggle" / "access_token", Path.home() / ".kaggle" / "access_token.txt"]


def find_credentials() -> str:
    """Where the credentials come from (kaggle 2.x's order); raises KaggleSetupError when there are none."""
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "environment (KAGGLE_API_TOKEN)"
    for path in token_files():
        if path.is_file():
            return str(path)
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "environment (KAGGLE_USERNAME, KAGGLE_KEY)"
    for path in credential_files():
        if path.is_file():
            _check_kaggle_json(path)
            return str(path)
    raise KaggleSetupError(
        "No Kaggle credentials. Create an API token at https://www.kaggle.com/settings (API > Create New Token) "
        "and set KAGGLE_API_TOKEN or save it as ~/.kaggle/access_token (or, for a legacy key, save kaggle.json "
        "as ~/.kaggle/kaggle.json with `chmod 600`, or set KAGGLE_USERNAME and KAGGLE_KEY); then accept the "
        f"competition rules at {RULES_URL}."
    )


def _check_kaggle_json(path: Path) -> None:
    """A legacy ``kaggle.json`` must be ``{"username": ..., "key": ...}``: else the kaggle package exits with a bare
    status (the user read "rejected the credentials ...: 1"). Never echoes the file's content (it holds the key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise KaggleSetupError(f"{path}: cannot be read ({type(err).__name__}): save the file Kaggle gives you "
                               "again") from None
    except ValueError as err:
        raise KaggleSetupError(f"{path}: not JSON (line {getattr(err, 'lineno', '?')}): a kaggle.json holds "
                               '{"username": "...", "key": "..."}; download it again at https://www.kaggle.com/settings'
                               ) from None
    missing = [k for k in ("username", "key") if not (isinstance(data, dict) and isinstance(data.get(k), str)
                                                      and data[k].strip())]
    if missing:
        raise KaggleSetupError(f"{path}: no {' and no '.join(repr(k) for k in missing)} (a non-empty string each): a "
                               'kaggle.json holds {"username": "...", "key": "..."}; download it again at '
                               "https://www.kaggle.com/settings")


def secrets() -> list[str]:
    """Every secret the credentials hold (tokens, keys, from the environment and the files), longest first."""
    found = [os.environ.get(v) for v in ("KAGGLE_API_TOKEN", "KAGGLE_KEY")]
    for path in token_files():
        try:
            found.append(path.read_text().strip())
        except OSError:
            pass
    token = os.environ.get("KAGGLE_API_TOKEN")
    if token and len(token) < 4096:
        try:
            if Path(token).is_file():
                found.append(Path(token).read_text().strip())
        except OSError:
            pass
    for path in credential_files():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            found += [str(v) for k, v in data.items() if k != "username" and v]
    return sorted({s for s in found if s and len(s) >= 4}, key=len, reverse=True)


def _redact(text: str) -> str:
    for secret in secrets():
        text = text.replace(secret, "***")
    return text


def download(dest: str | Path, file_name: str | None = None) -> Path:
    """Download the competition archive (or one file of it) into ``dest``; returns the folder."""
    find_credentials()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    banner = io.StringIO()  # importing kaggle signs in and prints its own help: one line of ours instead
    with contextlib.redirect_stdout(banner), contextlib.redirect_stderr(banner):
        from kaggle.api.kaggle_api_extended import KaggleApi  # imported late: it reads credentials

    tmp = Path(tempfile.mkdtemp(prefix=".kaggle-", dir=dest.parent))
    try:
        api = KaggleApi()
        try:
            with contextlib.redirect_stdout(banner), contextlib.redirect_stderr(banner):
                api.authenticate()
        except (Exception, SystemExit) as err:
            said = "" if isinstance(err, SystemExit) else str(err)  # a bare exit status says nothing to a reader
            first = (said or banner.getvalue()).strip().splitlines()[:1] or [
                f"the kaggle package stopped ({type(err).__name__} {err})"]
            raise KaggleSetupError(f"Kaggle rejected the credentials from {find_credentials()}: "
                                   f"{_redact(first[0])[:300]}") from None
        try:
            if file_name:
                api.competition_download_file(COMPETITION, file_name, path=str(tmp), quiet=False)
            else:
                api.competition_download_files(COMPETITION, path=str(tmp), quiet=False)
        except (Exception, SystemExit) as err:
            text = _redact(str(err))
            if "403" in text or "Forbidden" in text:
                raise KaggleSetupError(f"Kaggle refused the download: accept the rules at {RULES_URL}") from None
            if "401" in text:
                raise KaggleSetupError("Kaggle says the credentials are invalid: create a new token") from None
            raise KaggleSetupError(
                f"Cannot download {COMPETITION} from Kaggle ({type(err).__name__}: {text}). "
                "Check the network, or download it by hand and use the `dfdc` source."
            ) from None
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
        log.warning(SAMPLE_NOTE)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
