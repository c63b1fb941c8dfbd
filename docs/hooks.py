"""MkDocs hook: the site shows the repository's notebooks and configs, which live beside
docs/, not in it. Each is added to the site's files under its repository path
(``notebooks/lecture02_linear_model.ipynb``, ``configs/cnn.yaml``), so a page links it as
``notebooks/….ipynb`` and ``mkdocs build --strict`` checks that link like any other."""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

REPOSITORY = Path(__file__).resolve().parent.parent
#: Repository files published on the site as they are: (folder, pattern).
PUBLISHED = [("notebooks", "*.ipynb"), ("configs", "**/*.yaml")]


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
