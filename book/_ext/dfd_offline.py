"""A small Sphinx extension that keeps the book self-contained and its console clean.

* Jupyter Book 1 registers sphinx-thebe and sphinx-togglebutton twice, so every
  page declared ``const THEBE_JS_URL`` twice (a console SyntaxError): duplicate
  inline scripts are dropped.
* pydata-sphinx-theme logs an error when no colour mode is set: default to light.
* The book's own stylesheet, ``_css/dfd.css`` (tables and outputs that fit the column). Added
  here, and kept out of ``_static/``: a book folder of that name makes Jupyter Book load MathJax twice.
"""


def _page_context(app, pagename, templatename, context, doctree):
    context["default_mode"] = context.get("default_mode") or "light"
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # the twins differ only in filename None vs "": compare the file or inline body and the attributes
        key = (getattr(script, "filename", None) or "", repr(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"][:] = kept  # in place: the builder's list, which later handlers extend


def setup(app):
    app.add_css_file("dfd.css")
    app.connect("html-page-context", _page_context, priority=999)  # last, after every script is added
    return {"parallel_read_safe": True, "parallel_write_safe": True}

