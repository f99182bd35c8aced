"""Downloads (issue 24): a total deadline besides the per-read timeout (a server sending
one byte every few seconds kept a download alive forever), and a damaged cached file
offline is named as failing its checksum, not as "no network?"."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import semapose.weights.download as download
from semapose.weights.download import DownloadError, fetch


@pytest.fixture()
def trickle() -> Iterator[str]:
    """A server that sends a 1000-byte body one byte every 0.05 s."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/w.pth"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_trickling_server_hits_the_deadline(
    trickle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "DOWNLOAD_DEADLINE_S", 1.0)
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"w\.pth: expected the download to finish within 1 s"):
        fetch(trickle, "0" * 64, "w.pth", cache=tmp_path, timeout=5.0, progress=None)
    assert time.monotonic() - t0 < 10
    assert not list(tmp_path.glob("*w.pth*"))


def test_a_damaged_cached_file_offline_names_the_checksum(tmp_path: Path) -> None:
    good = b"weights"
    (tmp_path / "w.pth").write_bytes(b"zeroed!")
    digest = hashlib.sha256(good).hexdigest()
    with pytest.raises(DownloadError, match=r"w\.pth: the cached file failed its checksum"):
        fetch("http://127.0.0.1:9/w.pth", digest, "w.pth", cache=tmp_path, timeout=2.0)


def test_a_damaged_cached_asset_offline_names_the_checksum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import semapose.weights.assets as A

    asset = A.Asset("fake", "fakeasset==1.0", "fake.bin", "0" * 64, "a test asset", "MIT", 0.1)
    monkeypatch.setitem(A.ASSETS, "fake", asset)
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "cache"))

    def offline(*args: object) -> Path:
        raise A.AssetUnavailableError("cannot fetch fakeasset==1.0 (no wheel saved); offline?")

    monkeypatch.setattr(A, "_pip_download", offline)
    target = A.asset_path("fake")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\0" * 100)  # zeroed
    with pytest.raises(
        A.AssetUnavailableError, match=r"fake\.bin: the cached fake failed its checksum"
    ):
        A.fetch_asset("fake", progress=False)
