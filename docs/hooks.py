"""MkDocs hooks: the site shows the repository's notebooks and configs, which live beside
docs/, not in it. Each is added to the site's files under its repository path
(``notebooks/lecture02_linear_model.ipynb``, ``configs/cnn.yaml``), so a page links it as
``notebooks/….ipynb`` and ``mkdocs build --strict`` checks that link like any other.

The notebooks are executed at build time, each in a kernel started in notebooks/: their data
folder is ``$LESSONS_DATA_DIR`` made absolute, else the repository's data/ (where
``python cli.py download`` and the tests put it), never a notebooks/data of their own."""

from __future__ import annotations

import os
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

REPOSITORY = Path(__file__).resolve().parent.parent
#: Repository files published on the site as they are: (folder, pattern).
PUBLISHED = [("notebooks", "*.ipynb"), ("configs", "**/*.yaml")]


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """The kernels inherit this process's environment: the data folder, absolute."""
    folder = os.environ.get("LESSONS_DATA_DIR") or REPOSITORY / "data"
    os.environ["LESSONS_DATA_DIR"] = str(Path(folder).resolve())
    return config


@event_priority(100)  # before mkdocs-jupyter turns the notebooks into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    for folder, pattern in PUBLISHED:
        for path in sorted((REPOSITORY / folder).glob(pattern)):
            files.append(
                File(
                    path.relative_to(REPOSITORY).as_posix(),
                    src_dir=str(REPOSITORY),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
    return files
