"""Downloads against a real HTTP server on 127.0.0.1: mirrors in turn, corrupt and interrupted
downloads, the progress bar, ``LESSONS_MIRROR``, and the ``download`` command. Nothing here
reaches beyond this machine: ``urlopen`` of any other address fails the test."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import shutil
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import run_subprocess

import datamodules.diabetes
from datamodules.diabetes import DIABETES
from datamodules.download import check_all, download_all, lesson_files
from datamodules.files import MIRROR_VARIABLE, DataError, RemoteFile, fetch
from datamodules.mnist import MNIST_FILES
from datamodules.names import NAMES_TEST, NAMES_TRAIN

BODY = bytes(range(256)) * 12  # 3072 bytes the tests serve as "the" file
NAME = "sub/file.bin"


class Loopback:
    """An HTTP server on 127.0.0.1: ``bodies[path]`` is served with its Content-Length, a path
    in ``truncated`` sends that length but only half the body before closing, and anything
    else answers 404. ``requests`` lists the paths asked for, in order."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.truncated: set[str] = set()
        self.requests: list[str] = []
        loopback = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                loopback.requests.append(self.path)
                body = loopback.bodies.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = self.path in loopback.truncated
                self.wfile.write(body[: len(body) // 2] if cut else body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        serve = {"poll_interval": 0.01}  # shutdown() waits for the next poll
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=serve, daemon=True)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join()


@pytest.fixture
def refused_url() -> str:
    """An address on 127.0.0.1 where nothing listens: connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LESSONS_MIRROR from the environment, and no request beyond 127.0.0.1."""
    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    real_urlopen = urllib.request.urlopen

    def urlopen(url: str, *args: object, **kwargs: object):
        if urllib.parse.urlsplit(url).hostname != "127.0.0.1":
            pytest.fail(f"a test tried to reach beyond this machine: {url}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


@pytest.fixture
def data_source() -> Path:
    """The real data files (LESSONS_DATA_DIR, which tests/conftest.py points at ../shared/data)."""
    folder = Path(os.environ.get("LESSONS_DATA_DIR", "data"))
    if not all((folder / remote.name).is_file() for remote in lesson_files()):
        pytest.skip(f"the data files are not all in {folder}; set LESSONS_DATA_DIR")
    return folder


def remote_file(*urls: str) -> RemoteFile:
    return RemoteFile(NAME, urls, sha256=hashlib.sha256(BODY).hexdigest())


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


def test_an_address_that_is_down_is_skipped_for_the_next(loopback, refused_url, tmp_path, capsys):
    loopback.bodies["/good/file.bin"] = BODY
    remote = remote_file(
        f"{refused_url}/file.bin", f"{loopback.url}/gone/file.bin", f"{loopback.url}/good/file.bin"
    )
    path = fetch(remote, tmp_path / "data")
    assert path == tmp_path / "data" / NAME and path.read_bytes() == BODY
    assert files_in(tmp_path / "data") == [NAME]  # no .part, nothing else
    failures = capsys.readouterr().err.splitlines()
    assert len(failures) == 2  # one line per address that failed
    assert f"{refused_url}/file.bin" in failures[0] and "refused" in failures[0]
    assert f"{loopback.url}/gone/file.bin" in failures[1] and "HTTP 404" in failures[1]


def test_an_address_that_serves_a_wrong_file_is_skipped(loopback, tmp_path, capsys):
    loopback.bodies["/bad/file.bin"] = BODY[:-1] + b"x"
    loopback.bodies["/good/file.bin"] = BODY
    remote = remote_file(f"{loopback.url}/bad/file.bin", f"{loopback.url}/good/file.bin")
    assert fetch(remote, tmp_path).read_bytes() == BODY
    assert files_in(tmp_path) == [NAME]
    assert loopback.requests == ["/bad/file.bin", "/good/file.bin"]
    [failure] = capsys.readouterr().err.splitlines()
    assert "/bad/file.bin" in failure and "a wrong file: sha256 is" in failure


def test_a_download_interrupted_half_way_is_skipped(loopback, tmp_path, capsys):
    loopback.bodies["/cut/file.bin"] = loopback.bodies["/good/file.bin"] = BODY
    loopback.truncated.add("/cut/file.bin")
    remote = remote_file(f"{loopback.url}/cut/file.bin", f"{loopback.url}/good/file.bin")
    assert fetch(remote, tmp_path).read_bytes() == BODY
    assert files_in(tmp_path) == [NAME]
    [failure] = capsys.readouterr().err.splitlines()
    assert "/cut/file.bin" in failure and "closed after 1536 of 3072 bytes" in failure


def test_when_every_address_fails_one_line_says_each_reason_and_the_fix(
    loopback, refused_url, tmp_path, capsys
):
    loopback.bodies["/bad/file.bin"] = b"not the file"
    urls = (f"{refused_url}/file.bin", f"{loopback.url}/gone.bin", f"{loopback.url}/bad/file.bin")
    with pytest.raises(DataError) as error:
        fetch(remote_file(*urls), tmp_path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{NAME} is not in {tmp_path / 'sub'}")
    for url, reason in zip(urls, ("refused", "HTTP 404", "a wrong file: sha256 is")):
        assert f"{url} (" in message and reason in message.split(url)[1].split(";")[0]
    assert "LESSONS_DATA_DIR" in message and MIRROR_VARIABLE in message
    assert "python cli.py download" in message
    assert files_in(tmp_path) == []  # no half-written or wrong file left
    assert len(capsys.readouterr().err.splitlines()) == 3


def test_lessons_mirror_is_tried_first(loopback, refused_url, tmp_path, monkeypatch, capsys):
    loopback.bodies[f"/copy/{NAME}"] = BODY
    monkeypatch.setenv(MIRROR_VARIABLE, f"{loopback.url}/copy/")
    assert fetch(remote_file(f"{refused_url}/file.bin"), tmp_path).read_bytes() == BODY
    assert loopback.requests == [f"/copy/{NAME}"]
    assert capsys.readouterr().err == ""  # the public address was never needed


def test_the_real_diabetes_file_from_a_loopback_mirror(
    loopback, data_source, tmp_path, monkeypatch
):
    loopback.bodies["/diabetes.csv.gz"] = (data_source / "diabetes.csv.gz").read_bytes()
    monkeypatch.setenv(MIRROR_VARIABLE, loopback.url)
    path = fetch(DIABETES, tmp_path)  # checked against the published sha256
    assert hashlib.sha256(path.read_bytes()).hexdigest() == DIABETES.sha256
    assert files_in(tmp_path) == ["diabetes.csv.gz"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [Terminal, io.StringIO], ids=["terminal", "log"])
def test_the_progress_bar_shows_on_a_terminal_only(loopback, tmp_path, monkeypatch, stream):
    body = bytes(300_000)
    loopback.bodies["/big.bin"] = body
    remote = RemoteFile("big.bin", (f"{loopback.url}/big.bin",), md5=hashlib.md5(body).hexdigest())
    monkeypatch.setattr("sys.stderr", stderr := stream())
    fetch(remote, tmp_path)
    if stream is Terminal:
        assert stderr.getvalue().startswith("\rbig.bin  [")
        assert f"[{'#' * 20}]  300.0 kB/300.0 kB" in stderr.getvalue()
        assert stderr.getvalue().endswith("\n")
    else:
        assert stderr.getvalue() == ""


def test_fit_downloads_from_the_second_address_and_trains(
    run_cli, loopback, refused_url, data_source, tmp_path, monkeypatch, capsys
):
    """The issue's bar: the first address unreachable (LESSONS_MIRROR), the second serves."""
    loopback.bodies["/public/diabetes.csv.gz"] = (data_source / "diabetes.csv.gz").read_bytes()
    monkeypatch.setenv(MIRROR_VARIABLE, refused_url)
    public = (f"{loopback.url}/public/diabetes.csv.gz",)
    monkeypatch.setattr(
        datamodules.diabetes, "DIABETES", dataclasses.replace(DIABETES, urls=public)
    )
    empty = tmp_path / "empty"
    result = run_cli(
        "fit", "diabetes", "--data.init_args.data_dir", str(empty),
        "--trainer.max_epochs", "1", "--model.init_args.course_steps_per_batch", "10",
    )  # fmt: skip
    assert result.trainer.global_step == 10  # it trained
    assert files_in(empty) == ["diabetes.csv.gz"]
    assert loopback.requests == ["/public/diabetes.csv.gz"]
    [failure] = [line for line in capsys.readouterr().err.splitlines() if "failed" in line]
    assert f"{refused_url}/diabetes.csv.gz failed (" in failure


def test_download_fetches_every_file_into_an_empty_folder(
    loopback, data_source, tmp_path, monkeypatch, capsys
):
    for remote in lesson_files():
        loopback.bodies[f"/{remote.name}"] = (data_source / remote.name).read_bytes()
    monkeypatch.setenv(MIRROR_VARIABLE, loopback.url)
    folder = tmp_path / "offline"
    assert download_all(folder) == 0
    lessons_use = [DIABETES, NAMES_TRAIN, NAMES_TEST, *MNIST_FILES.values()]
    assert files_in(folder) == sorted(remote.name for remote in lessons_use)
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("downloaded, verified: ") for line in out) == len(lessons_use)
    assert "copy this folder there and set LESSONS_DATA_DIR" in out[-1]
    requests = len(loopback.requests)
    assert download_all(folder) == 0  # again: everything is there, nothing is downloaded
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("present, verified: ") for line in out) == len(lessons_use)
    assert len(loopback.requests) == requests


def test_check_finds_every_file_in_the_shared_data(data_source, capsys):
    assert check_all(data_source) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == [f"present, verified: {remote.name}" for remote in lesson_files()]


def test_check_names_each_missing_or_corrupt_file_and_downloads_nothing(
    loopback, data_source, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv(MIRROR_VARIABLE, loopback.url)
    shutil.copy(data_source / "names_test.csv.gz", tmp_path)
    (tmp_path / "diabetes.csv.gz").write_bytes(b"not the file")
    assert check_all(tmp_path) == 1
    out = capsys.readouterr()
    assert "corrupt: diabetes.csv.gz (sha256 is" in out.out
    assert "present, verified: names_test.csv.gz" in out.out
    missing = [line for line in out.out.splitlines() if line.startswith("missing: ")]
    assert len(missing) == len(lesson_files()) - 2
    assert "6 file(s) missing or corrupt" in out.err and "download --data_dir" in out.err
    assert loopback.requests == []


@pytest.mark.slow
def test_download_check_as_a_command(data_source, tmp_path):
    result = run_subprocess("download", "--check", "--data_dir", str(data_source), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:-1] == [f"present, verified: {remote.name}" for remote in lesson_files()]
    assert "matches its published checksum" in lines[-1]
