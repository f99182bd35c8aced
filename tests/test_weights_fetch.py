"""Checkpoint download into the cache, tested against a local HTTP server on 127.0.0.1 only."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from semapose.errors import InputError
from semapose.weights import download as W
from semapose.weights.resolve import resolve_weights

PAYLOAD = b"semapose test weights " * 1000


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (base URL, folder, request log)."""
    www = tmp_path / "www"
    www.mkdir()
    log: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            log.append(self.path)

    handler = functools.partial(Handler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www, log
    finally:
        httpd.shutdown()
        httpd.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fetch_verifies_caches_and_does_not_refetch(server, tmp_path: Path) -> None:
    base, www, log = server
    (www / "w.bin").write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    cache = tmp_path / "cache"
    got = W.fetch(f"{base}/w.bin", digest, "w.bin", cache=cache)
    assert got == cache / "w.bin" and got.read_bytes() == PAYLOAD
    assert sorted(p.name for p in cache.iterdir()) == ["w.bin"]  # no temp files left
    n = len(log)
    assert W.fetch(f"{base}/w.bin", digest, "w.bin", cache=cache) == got
    assert len(log) == n  # served from the cache
    # an 8-digit prefix (OpenMMLab file-name convention) is accepted too
    assert W.fetch(f"{base}/w.bin", digest[:8], "w.bin", cache=cache) == got


def test_checksum_mismatch_discards_download(server, tmp_path: Path) -> None:
    base, www, _ = server
    (www / "w.bin").write_bytes(PAYLOAD)
    cache = tmp_path / "cache"
    with pytest.raises(W.DownloadError, match="checksum mismatch"):
        W.fetch(f"{base}/w.bin", "0" * 64, "w.bin", cache=cache)
    assert not any(cache.iterdir())
    # a corrupted cached file is not trusted: it is downloaded again
    cache.joinpath("w.bin").write_bytes(b"corrupt")
    good = W.fetch(f"{base}/w.bin", hashlib.sha256(PAYLOAD).hexdigest(), "w.bin", cache=cache)
    assert good.read_bytes() == PAYLOAD


def test_offline_and_http_errors_are_clear(server, tmp_path: Path) -> None:
    base, _, _ = server
    url = f"http://127.0.0.1:{_free_port()}/w.bin"  # nothing listens: connection refused
    with pytest.raises(W.DownloadError) as info:
        W.fetch(url, "a" * 64, "w.bin", cache=tmp_path / "c", timeout=5)
    msg = str(info.value)
    assert url in msg and "no network" in msg and str(tmp_path / "c" / "w.bin") in msg
    with pytest.raises(W.DownloadError, match="404"):
        W.fetch(f"{base}/missing.bin", "a" * 64, "m.bin", cache=tmp_path / "c")
    assert not any((tmp_path / "c").iterdir())


def test_zip_member_extracted_and_checked(server, tmp_path: Path) -> None:
    base, www, _ = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sdk/deploy.json", "{}")
        zf.writestr("sdk/end2end.onnx", PAYLOAD)
    (www / "m.zip").write_bytes(buf.getvalue())
    got = W.fetch(
        f"{base}/m.zip",
        hashlib.sha256(PAYLOAD).hexdigest(),
        "m.onnx",
        cache=tmp_path / "c",
        member="end2end.onnx",
    )
    assert got.read_bytes() == PAYLOAD
    with pytest.raises(W.DownloadError, match="no other.onnx"):
        W.fetch(f"{base}/m.zip", "a" * 64, "o.onnx", cache=tmp_path / "c", member="other.onnx")
    (www / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(W.DownloadError, match="not a valid zip"):
        W.fetch(f"{base}/bad.zip", "a" * 64, "b.onnx", cache=tmp_path / "c", member="x.onnx")


def test_resolve_weights_names_paths_and_cache_dir(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, www, _ = server
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "envcache"))
    assert W.cache_dir() == tmp_path / "envcache"
    monkeypatch.delenv("SEMAPOSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert W.cache_dir() == tmp_path / "xdg" / "semapose"

    own = tmp_path / "mine.safetensors"
    own.write_bytes(b"x")
    assert resolve_weights(own).path == own
    with pytest.raises(InputError, match="hrnet-w32-coco-256x192"):
        resolve_weights("no-such-model")

    (www / "t.pth").write_bytes(PAYLOAD)
    entry = W.KnownWeights(
        "test-net", f"{base}/t.pth", hashlib.sha256(PAYLOAD).hexdigest()[:8], "t.pth", "test", "MIT"
    )
    monkeypatch.setitem(W.KNOWN_WEIGHTS, "test-net", entry)
    got = resolve_weights("test-net").path
    assert got == tmp_path / "xdg" / "semapose" / "t.pth" and got.read_bytes() == PAYLOAD


def test_known_table_is_well_formed() -> None:
    for name, w in W.KNOWN_WEIGHTS.items():
        assert name == w.name and w.url.startswith("https://")
        assert len(w.sha256) in (8, 64) and int(w.sha256, 16) >= 0
        assert w.licence
