"""Front-end files from the npm registry, so nothing the study shows loads from a CDN.

* MathJax for the book (``dfd_utils.book``).
* vega, vega-lite and vega-embed for ``dvc plots show``: DVC's HTML loads them from
  a CDN; ``.dvc/config`` points ``plots.html_template`` at ``.dvc/plots/offline.html``,
  which this module writes with the three libraries inlined (``make plots``).
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from dfd_utils.io import atomic_path
from dfd_utils.paths import project_root

VEGA = {"vega@5.20.2": "build/vega.min.js", "vega-lite@5.2.0": "build/vega-lite.min.js",
        "vega-embed@6.18.2": "build/vega-embed.min.js"}  # the versions DVC's renderer asks for


def npm_file(package: str, member: str) -> bytes:
    """One file of an npm package, fetched with ``npm pack`` (the registry, no CDN)."""
    if shutil.which("npm") is None:
        raise RuntimeError(f"npm is needed to vendor {package} (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        archive = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(archive) as tar:
            handle = tar.extractfile(f"package/{member}")
            if handle is None:
                raise FileNotFoundError(f"{package}: no {member} in the package")
            return handle.read()


PAGE = """<!DOCTYPE html>
<html>
<head>
    <meta charset="utf-8">
    <title>dfd: learning curves (DVC plots, offline)</title>
{scripts_inline}
    <style>table {{ border-spacing: 15px; }}</style>
</head>
<body>
    {{plot_divs}}
</body>
</html>
"""


def write_plots_template(path: str | Path | None = None) -> Path:
    """Write the offline HTML template for ``dvc plots show`` (once)."""
    path = Path(path) if path else project_root() / ".dvc" / "plots" / "offline.html"
    if path.is_file():
        return path
    scripts = []
    for package, member in VEGA.items():
        code = npm_file(package, member).decode("utf-8").replace("</script", "<\\/script")
        scripts.append(f"    <script>/* {package} (npm) */\n{code}\n    </script>")
    with atomic_path(path) as tmp:
        tmp.write_text(PAGE.format(scripts_inline="\n".join(scripts)))
    return path


if __name__ == "__main__":
    print(write_plots_template())
