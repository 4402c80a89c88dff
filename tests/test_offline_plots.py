"""`dvc plots show` with the vendored template writes a page that needs no network."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dfd_utils.tooling.vendor import write_plots_template

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is needed to vendor vega")


@pytest.mark.slow  # a few seconds: kept out of make test-fast
def test_dvc_plots_page_has_no_cdn(tmp_path):
    template = write_plots_template(tmp_path / "offline.html")
    text = template.read_text()
    assert "{plot_divs}" in text and "vegaEmbed" in text
    assert not re.search(r"<script[^>]+src=", text)
    (tmp_path / "curve.tsv").write_text("step\tval_auc\n0\t0.5\n1\t0.8\n")
    dvc = Path(sys.executable).with_name("dvc")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([str(dvc), "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([str(dvc), "plots", "show", "curve.tsv", "--html-template", str(template), "-o", "out"],
                   cwd=tmp_path, check=True, capture_output=True)
    page = (tmp_path / "out" / "index.html").read_text()
    assert "cdn.jsdelivr" not in page and not re.search(r"<script[^>]+src=\"http", page)
    assert "val_auc" in page
