"""The ``kaggle`` source: download DFDC with the official Kaggle API, then select.

Needs credentials (``~/.kaggle/kaggle.json``, ``~/.config/kaggle/kaggle.json``,
``$KAGGLE_CONFIG_DIR/kaggle.json``, or ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``), the
competition rules accepted on the website, and a network. Without any of them it
stops with one message saying what to do; the download goes to a temp folder and is
moved into place only when complete; the key is never printed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

COMPETITION = "deepfake-detection-challenge"
RULES_URL = f"https://www.kaggle.com/c/{COMPETITION}/rules"


class KaggleSetupError(RuntimeError):
    """Something the user must fix before the download can work."""


def credential_files() -> list[Path]:
    dirs = [os.environ.get("KAGGLE_CONFIG_DIR"), Path.home() / ".kaggle", Path.home() / ".config" / "kaggle"]
    return [Path(d) / "kaggle.json" for d in dirs if d]


def find_credentials() -> str:
    """Where the credentials come from; raises KaggleSetupError when there are none."""
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "environment (KAGGLE_USERNAME, KAGGLE_KEY)"
    for path in credential_files():
        if path.is_file():
            return str(path)
    raise KaggleSetupError(
        "No Kaggle credentials. Create an API token at https://www.kaggle.com/settings (Account > API > "
        "Create New Token), save it as ~/.kaggle/kaggle.json with `chmod 600 ~/.kaggle/kaggle.json`, or set "
        f"KAGGLE_USERNAME and KAGGLE_KEY; then accept the competition rules at {RULES_URL}."
    )


def _redact(text: str) -> str:
    key = os.environ.get("KAGGLE_KEY")
    return text.replace(key, "***") if key else text


def download(dest: str | Path, file_name: str | None = None) -> Path:
    """Download the competition archive (or one file of it) into ``dest``; returns the folder."""
    find_credentials()
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    from kaggle.api.kaggle_api_extended import KaggleApi  # imported late: it reads credentials

    tmp = Path(tempfile.mkdtemp(prefix=".kaggle-", dir=dest.parent))
    try:
        api = KaggleApi()
        try:
            api.authenticate()
        except (Exception, SystemExit) as err:
            raise KaggleSetupError(f"Kaggle rejected the credentials: {_redact(str(err))}") from None
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
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
