"""Tooling around the study: building, publishing and running it, never imported by a chapter.

The library (``dfd_utils``), the paper's pipeline (``dfd_utils.stages``) and the chapters
beyond it (``dfd_utils.chapters``) compute results; these modules only build the book, set up Lab and Colab,
keep ``dvc.yaml`` honest and measure. A stage's notebook imports none of them, so an
edit here reruns no stage of the study (``stage_deps.py`` checks that each stage
depends on what it imports, and the book's pages are built at ``make book``)::

    book.py           the HTML book from the executed notebooks (Jupyter Book 1, offline)
    bundle.py         a run's executed notebooks, metrics and cards in one checked file: the book without the run
    execution.py      each stage's run time and machine; the book's execution statistics page
    vendor.py         front-end files from npm, so nothing the study shows loads from a CDN
    colab.py          every notebook's Colab badge and install cell, from the repository's URL
    colab_install.py  what that cell runs on Colab: clone, install within Colab's own packages
    lab.py            JupyterLab's pre-save hook: notebooks stay as committed unless a cell changed
    clean.py          ``make clean-cache``: the disk a finished study no longer needs
    stage_deps.py     each DVC stage's code deps: exactly the modules it imports
    hub_cache.py      a stand-in ImageNet file in a torch hub cache (tests, paper check; offline)
    paper_check.py    ``make paper-check``: every stage at the paper's shapes on a CPU
    paper_splits.py   the paper profile's split sizes, by the study's own splitter
    peak_rss.py       wall time and peak memory of a child process
"""
