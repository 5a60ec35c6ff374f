"""download_file / download_fashion_mnist against a local HTTP server on 127.0.0.1 started in a thread:
full download, MD5 failure, resume with Range, a server that ignores Range, atomicity, mirrors."""
import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from backproplab.data import (DEFAULT_DIR, GZ_MD5, ChecksumError, DownloadError, download_fashion_mnist, download_file,
                              load_fashion_mnist)
from backproplab.data.cli import main as data_main


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-`` when ``server.honour_range``;
    cuts the connection after ``server.cut_after`` body bytes (once)."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        rng_header = self.headers.get("Range")
        data = srv.files.get(self.path.lstrip("/"))
        if data is None:
            srv.log.append((self.path, rng_header, 404))
            self.send_error(404)
            return
        start, status = 0, 200
        if rng_header and srv.honour_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng_header).group(1))
            if start >= len(data):
                srv.log.append((self.path, rng_header, 416))
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        body = data[start:]
        srv.log.append((self.path, rng_header, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if srv.cut_after is not None:
            body, srv.cut_after = body[: srv.cut_after], None  # the connection drops mid-file
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.log, srv.honour_range, srv.cut_after = {}, [], True, None
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/"
    yield srv
    srv.shutdown()
    srv.server_close()


PAYLOAD = np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
MD5 = hashlib.md5(PAYLOAD).hexdigest()


def test_full_download_then_noop(server, tmp_path):
    server.files["f.bin"] = PAYLOAD
    seen = []
    dest = download_file(server.url + "f.bin", tmp_path / "f.bin", MD5, chunk_size=8192,
                         progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) > 1
    download_file(server.url + "f.bin", dest, MD5)  # present and valid: no request
    assert len(server.log) == 1


def test_md5_mismatch_leaves_nothing(server, tmp_path):
    server.files["f.bin"] = PAYLOAD[:-1] + b"\x00"
    with pytest.raises(ChecksumError) as info:
        download_file(server.url + "f.bin", tmp_path / "f.bin", MD5)
    assert "f.bin" in str(info.value) and MD5 in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no final file, no .part to resume from


@pytest.mark.parametrize("honour_range", [True, False])
def test_resume_after_dropped_connection(server, tmp_path, honour_range):
    server.files["f.bin"] = PAYLOAD
    server.honour_range, server.cut_after = honour_range, 12_345
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError, match="resume") as info:
        download_file(server.url + "f.bin", dest, MD5, timeout=5)
    assert str(dest) + ".part" in str(info.value)
    assert not dest.exists() and (tmp_path / "f.bin.part").stat().st_size == 12_345  # atomic: no final file
    download_file(server.url + "f.bin", dest, MD5, timeout=5)
    assert dest.read_bytes() == PAYLOAD and not (tmp_path / "f.bin.part").exists()
    if honour_range:
        assert server.log[-1] == ("/f.bin", "bytes=12345-", 206)  # only the missing bytes were sent
    else:
        assert server.log[-1] == ("/f.bin", "bytes=12345-", 200)  # whole file again, written from the start


def test_complete_part_file_is_finished(server, tmp_path):
    server.files["f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD)  # killed between the last byte and the rename
    download_file(server.url + "f.bin", tmp_path / "f.bin", MD5)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD and server.log[-1][2] == 416


def test_http_error_and_existing_bad_file(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download_file(server.url + "missing.bin", tmp_path / "m.bin", MD5)
    assert "missing.bin" in str(info.value) and list(tmp_path.iterdir()) == []
    (tmp_path / "old.bin").write_bytes(b"stale")
    with pytest.raises(ChecksumError, match="delete"):
        download_file(server.url + "f.bin", tmp_path / "old.bin", MD5)
    with pytest.raises(ValueError, match="http"):
        download_file("file:///etc/passwd", tmp_path / "p", None)


@pytest.fixture
def fake_gz_files(tmp_path, write_fake_fashion_mnist):
    """The bytes of four tiny gzip IDX files with the official names, by name."""
    folder = tmp_path / "src"
    write_fake_fashion_mnist(folder, np.random.default_rng(3), n=(30, 10), shuffle_labels=False)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_download_fashion_mnist_with_fallback_mirror(server, tmp_path, fake_gz_files):
    files = fake_gz_files
    server.files.update({f"mirror/{k}": v for k, v in files.items()})
    md5s = {k: hashlib.md5(v).hexdigest() for k, v in files.items()}
    out = tmp_path / "out"
    paths = download_fashion_mnist(out, base_urls=[server.url + "dead/", server.url + "mirror/"], checksums=md5s)
    assert sorted(p.name for p in paths) == sorted(files)
    assert sorted(p.name for p in out.iterdir()) == sorted(files)  # no .part left behind
    ds = load_fashion_mnist(classes=None, data_dir=out)
    assert ds.x_train.shape == (30, 784) and ds.y_test.tolist() == list(range(10))


def test_cli_download_rejects_non_official_files(server, tmp_path, capsys, fake_gz_files):
    server.files.update(fake_gz_files)  # right names, wrong bytes: the official MD5s cannot match
    out = tmp_path / "out"
    assert data_main(["download", str(out), "--base-url", server.url, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "MD5" in err and "train-images-idx3-ubyte.gz" in err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.skipif(not all((DEFAULT_DIR / n).is_file() for n in GZ_MD5), reason=f"Fashion-MNIST not in {DEFAULT_DIR}")
def test_recompressed_official_copy_is_not_downloaded_again(server, tmp_path):
    # the Debian package's .gz files differ in MD5 from the official ones (gzip header) but hold the
    # official bytes: download must accept them without a request instead of failing or overwriting
    for name in GZ_MD5:
        (tmp_path / name).symlink_to(DEFAULT_DIR / name)
    paths = download_fashion_mnist(tmp_path, base_urls=[server.url])
    assert server.log == [] and sorted(p.name for p in paths) == sorted(GZ_MD5)
