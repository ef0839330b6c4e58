"""Write notebooks/images/explorer.png, the README's picture of an attention explorer: notebook 04's committed
explorer (the alignment over one test date, every soft variant as a head, the true field spans outlined), opened
in Chromium as a standalone page, one output row locked.

    python tests/browser/make_readme_picture.py      (needs requirements-site.txt and Chromium)

Run it again after 04 is re-rendered with other weights; the picture shows what the committed notebook holds.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
from playwright.sync_api import sync_playwright

from helpers import paths

NOTEBOOK = paths.NOTEBOOKS_DIR / "04_seq2seq_attention.ipynb"
TARGET = paths.NOTEBOOKS_DIR / "images" / "explorer.png"
LOCKED_ROW = 2          # the output's third character: a digit of the year


def explorer_html(path: Path) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            markup = "".join(output.get("data", {}).get("text/html", ""))
            if "class='attention-explorer'" in markup:
                return markup
    raise ValueError(f"{path.name} holds no attention explorer output: re-render it "
                     "(`python -m helpers.course render --only 04`)")


def main() -> Path:
    with tempfile.TemporaryDirectory() as folder:
        markup = explorer_html(NOTEBOOK)
        data = json.loads(re.search(r"class='explorer-data'>(.*?)</script>", markup).group(1).replace("<\\/", "</"))
        row = data["weights"][0][0][LOCKED_ROW]
        strongest = row.index(max(row))                  # the key this output character attends to most
        page_file = Path(folder) / "explorer.html"
        page_file.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body style='margin:8px'>"
                             f"{markup}</body></html>", encoding="utf-8")
        executable = shutil.which("chromium") or shutil.which("chromium-browser")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable)
            page = browser.new_page(viewport={"width": 900, "height": 700})
            page.goto(page_file.as_uri())
            explorer = page.locator(".attention-explorer")
            explorer.locator("table.explorer-grid").wait_for()
            explorer.locator(f"tr.explorer-row[data-query='{LOCKED_ROW}'] th").click()
            explorer.locator(f"tr.explorer-row[data-query='{LOCKED_ROW}'] td[data-key='{strongest}']").hover()
            TARGET.parent.mkdir(exist_ok=True)
            explorer.screenshot(path=str(TARGET))
            browser.close()
    return TARGET


if __name__ == "__main__":
    print(main())
