"""The README a new user follows: its Layout table names every top-level package and module of hfl_ros, and
it links the pages the user's own downloads come from."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
#: Pages for MANO, the authors' checkpoints and the two datasets (issue 19: the README only worked here).
DOWNLOAD_PAGES = ("https://mano.is.tue.mpg.de", "https://github.com/lzfff12/HFL-Net",
                  "https://www.tugraz.at/institute/icg/research/team-lepetit/research-projects/hand-object-3d-pose-annotation/",
                  "https://dex-ycb.github.io/")


def _layout_rows() -> str:
    text = README.read_text()
    section = text[text.index("## Layout"):]
    return section.split("\n## ", 1)[0]


def _named_in_layout(rows: str) -> set:
    """Every hfl_ros/... path a Layout row names, with bare names after the first resolved against it."""
    named = set()
    for line in rows.splitlines():
        if not line.startswith("| `hfl_ros/"):
            continue
        first_cell = line.split("|")[1]
        for name in re.findall(r"`([^`]+)`", first_cell):
            named.add(name if name.startswith("hfl_ros/") else f"hfl_ros/{name}")
    return named


def test_layout_names_every_top_level_package_and_module():
    named = _named_in_layout(_layout_rows())
    package = REPO / "hfl_ros"
    entries = {f"hfl_ros/{path.name}/" for path in package.iterdir() if (path / "__init__.py").is_file()}
    entries |= {f"hfl_ros/{path.name}" for path in package.glob("*.py") if path.name != "__init__.py"}
    assert entries, "no package found"
    assert sorted(entries - named) == []


def test_readme_links_the_download_pages_and_has_no_placeholder():
    text = README.read_text()
    for page in DOWNLOAD_PAGES:
        assert page in text, page
    assert "<this repository>" not in text
    assert "data.root" in text
