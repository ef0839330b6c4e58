"""Show the source of a helper inside a notebook, highlighted."""

from __future__ import annotations

import inspect


def source(obj) -> None:
    """Display the source of a function or class from ``helpers`` as highlighted code.

    Introduced in notebooks/01_weighted_sum_intuition.ipynb: the course keeps each
    layer in one place (the topic modules of ``helpers/layers/``) and shows it where it is taught.
    """
    from IPython.display import Markdown, display

    if not (inspect.isfunction(obj) or inspect.isclass(obj) or inspect.ismethod(obj)):
        raise ValueError(f"obj must be a function, method or class, got {type(obj).__name__}")
    display(Markdown(f"```python\n{inspect.getsource(obj).rstrip()}\n```"))
