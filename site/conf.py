"""Sphinx configuration of the course site (``python -m helpers.course site`` builds it into build/site/).

The site is made from the rendered notebooks as they are committed: nothing is executed, nothing is fetched.
MathJax comes from the ``jupyter-server-mathjax`` package (copied into ``_static/mathjax`` by the builder), so
math renders with the network off.
"""

project = "Attention, hands-on"
author = "the course authors"
copyright = "the course authors (MIT licence)"

extensions = ["myst_nb"]
nb_execution_mode = "off"                       # the committed outputs are the site's outputs
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3                        # in-page links such as (#1-a-weighted-sum)
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.header"]             # notebooks start with an H1 and may skip a level in exercises

html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,                # the .ipynb of each page, from this site
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "navigation_with_keys": True,
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},   # the home page's table gets the width
}
html_show_sourcelink = False
html_last_updated_fmt = None

# MathJax 2.7 from the jupyter-server-mathjax package, served from this site (relative to _static/).
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    # MyST marks each page "ignore" and its math "math": process only that (MyST sets this itself for MathJax 3+)
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True,
                "processClass": "tex2jax_process|mathjax_process|math|output_area"},
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None},
    "messageStyle": "none",
    "menuSettings": {"zoom": "None"},
}
