"""The built site as a reader sees it: every page in headless Chromium at a desktop's width
and a phone's (1280 and 390 px). Fails when a code block, a notebook cell or an output scrolls
sideways (its content wider than its pane) or when a page does; screenshots of the pages named.

    python docs/check_site.py SITE_DIR [--screenshots DIR] [--shoot PAGE ...]

CI (.ci/run) runs it on the site it builds; Chromium is Debian's ``chromium``, with
``fonts-wqy-microhei`` for the Chinese. The site is served on 127.0.0.1 by this script, which
adds to each page a script that measures every ``pre`` (and the code in it) once the page is
laid out and writes what overflows into the page; ``chromium --dump-dom`` prints it. Nothing
beyond this machine is reached (Chromium runs with its background networking off).
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: A desktop's width and a phone's, in CSS pixels, and the height of a screenshot.
WIDTHS = (1280, 390)
SCREENSHOT_HEIGHT = 2400
#: The pages shot by default: the home page, lecture 7's page and its notebook.
SHOT = ("index.html", "en/lecture07/index.html", "notebooks/lecture07_multiple_dimension_input/")
REPORT_ID = "site-check-overflow"
#: Added to each page: after layout, what scrolls sideways, as JSON in a <pre> of its own.
MEASURE = f"""<script>
window.addEventListener("load", () => setTimeout(() => {{
  const wide = [];
  for (const pane of document.querySelectorAll("pre, pre > code")) {{
    if (pane.clientWidth > 0 && pane.scrollWidth > pane.clientWidth + 1) {{
      wide.push(`${{pane.tagName.toLowerCase()}} ${{pane.scrollWidth}} px in ${{pane.clientWidth}}`
                + ` px: ${{pane.textContent.trim().slice(0, 70)}}`);
    }}
  }}
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + 1) {{
    wide.push(`the page: ${{page.scrollWidth}} px in ${{window.innerWidth}} px`);
  }}
  const report = document.createElement("pre");
  report.id = "{REPORT_ID}";
  report.textContent = JSON.stringify(wide);
  document.body.appendChild(report);
}}, 0));
</script>"""
REPORT = re.compile(rf'<pre id="{REPORT_ID}">(.*?)</pre>', re.S)


class Measured(http.server.SimpleHTTPRequestHandler):
    """The site's files, each HTML page with MEASURE before its </body> (but with ``?as-is``,
    for screenshots)."""

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        if path.suffix != ".html" or not path.is_file() or self.path.endswith("?as-is"):
            return super().send_head()
        body = path.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>", 1)
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return _Body(data)

    def log_message(self, *args: object) -> None:
        pass


class _Body:
    """What send_head returns for SimpleHTTPRequestHandler to copy and close."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit(
            "error: no chromium here; install Debian's `chromium` and `fonts-wqy-microhei` "
            "(apt-get install chromium fonts-wqy-microhei)"
        )
    return found


def run_chromium(url: str, width: int, *action: str) -> str:
    """Chromium, headless and offline, on ``url`` in a window ``width`` px wide; its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{SCREENSHOT_HEIGHT}",
            "--virtual-time-budget=5000",
            *action,
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed on {url}: {done.stderr.strip()[-500:]}")
    return done.stdout


def overflowing(url: str, width: int) -> list[str]:
    """What scrolls sideways on the page at ``url`` in a window ``width`` px wide."""
    found = REPORT.search(run_chromium(url, width, "--dump-dom"))
    if found is None:
        raise RuntimeError(f"{url}: the measuring script did not run")
    return json.loads(html.unescape(found[1]))


def pages(site: Path) -> list[str]:
    """Every page of the site, as its path under it (``en/lecture07/index.html``)."""
    return sorted(
        path.relative_to(site).as_posix()
        for path in site.rglob("*.html")
        if path.name != "404.html"
    )


def serve(site: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(Measured, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check(site: Path, screenshots: Path | None, shoot: list[str], workers: int = 2) -> int:
    """Measure every page at every width, shoot the pages named; the exit status."""
    server = serve(site)
    base = f"http://127.0.0.1:{server.server_port}/"
    try:
        jobs = [(page, width) for page in pages(site) for width in WIDTHS]
        with ThreadPoolExecutor(workers) as pool:
            found = list(pool.map(lambda job: overflowing(base + job[0], job[1]), jobs))
        bad = 0
        for (page, width), wide in zip(jobs, found):
            for what in wide:
                print(f"scrolls sideways: {page} at {width} px: {what}")
            bad += bool(wide)
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            for page in shoot:
                for width in WIDTHS:
                    name = re.sub(r"[^\w]+", "_", page.removesuffix("index.html")).strip("_")
                    png = screenshots / f"{name or 'home'}_{width}.png"
                    run_chromium(f"{base}{page}?as-is", width, f"--screenshot={png}")
                    print(f"screenshot: {png}")
    finally:
        server.shutdown()
        server.server_close()
    print(f"{len(jobs)} page views ({len(jobs) // len(WIDTHS)} pages at {WIDTHS} px): ", end="")
    print(f"{bad} with a pane that scrolls sideways" if bad else "no pane scrolls sideways")
    return 1 if bad else 0


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs build --site-dir)")
    parser.add_argument("--screenshots", type=Path, help="where the screenshots go")
    parser.add_argument("--shoot", nargs="*", default=list(SHOT), help="the pages shot")
    options = parser.parse_args(args)
    return check(options.site, options.screenshots, options.shoot)


if __name__ == "__main__":
    sys.exit(main())
