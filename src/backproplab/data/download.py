"""Download one file over HTTP(S): MD5-checked, resumable, atomic. Standard library only (urllib).

How a download of ``URL`` to ``DEST`` goes:

1. ``DEST`` already there: its MD5 is checked; a match is a no-op, a mismatch is an
   error (we never overwrite a file we did not just verify).
2. Bytes go to ``DEST.part``. If that exists (an earlier download was cut off) we ask
   only for the rest with ``Range: bytes=<size>-``. A server that answers 206 gets
   its bytes appended; one that ignores Range (200) makes us start over.
3. A connection that ends early raises :class:`DownloadError` and keeps ``DEST.part``,
   so running the same command again resumes.
4. The complete ``.part`` is MD5-checked. A mismatch deletes it and raises
   :class:`ChecksumError`. A match is fsynced and renamed onto ``DEST`` (``os.replace``,
   atomic on POSIX), so ``DEST`` never exists half-written or unverified.

Reference: RFC 9110 sections 14.2 (Range) and 15.3.7 (206 Partial Content).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

Progress = Callable[[int, "int | None"], None]  # (bytes done, total bytes or None)


class ChecksumError(ValueError):
    """A file's MD5 differs from the published one."""


class DownloadError(OSError):
    """The transfer failed (HTTP error, connection lost); a partial file, if any, is kept for resuming."""


def md5_file(path, chunk_size: int = 1 << 20) -> str:
    """Hex MD5 of a file, read in chunks (constant memory)."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def download_file(url: str, dest, md5: str | None = None, *, timeout: float = 60.0,
                  chunk_size: int = 1 << 20, progress: Progress | None = None) -> Path:
    """Download ``url`` to ``dest`` (see the module docstring for the steps).

    Args:
        url: ``http://`` or ``https://`` address.
        dest: final path; ``dest.part`` holds the bytes while downloading.
        md5: expected hex MD5 of the whole file; ``None`` skips the check.
        timeout: seconds to wait for the server on each socket operation.
        chunk_size: bytes per read.
        progress: called as ``progress(done, total)`` after each chunk.
    Returns:
        ``dest``.
    Raises:
        ChecksumError: MD5 mismatch (of an existing ``dest`` or of the download).
        DownloadError: HTTP error or connection lost.
    """
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"only http:// and https:// URLs are downloaded, got {url!r}")
    dest = Path(dest)
    if dest.exists():
        got = md5_file(dest) if md5 else None
        if got == md5:
            return dest
        raise ChecksumError(
            f"{dest} already exists but its MD5 is {got}, expected {md5}; "
            f"fix: delete {dest} and run the download again"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _fetch(url, part, timeout=timeout, chunk_size=chunk_size, progress=progress)
    if md5 is not None:
        got = md5_file(part)
        if got != md5:
            part.unlink()  # resuming a corrupt file cannot fix it
            raise ChecksumError(
                f"{dest.name} downloaded from {url} has MD5 {got}, expected {md5}; nothing was saved; "
                f"fix: run the download again (it starts over); if it keeps failing, the server's copy "
                f"differs from the published file"
            )
    with open(part, "rb") as f:
        os.fsync(f.fileno())  # the rename must not land before the bytes do
    os.replace(part, dest)
    return dest


def _fetch(url: str, part: Path, *, timeout: float, chunk_size: int, progress: Progress | None,
           may_restart: bool = True) -> None:
    """Append the missing bytes of ``url`` to ``part`` (from its current size)."""
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "backproplab"}
    if start:
        headers["Range"] = f"bytes={start}-"
    resume_hint = f"partial data kept in {part}; fix: check the network and run the same command again to resume"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and start and may_restart:
            # 416: nothing at or after `start`. If the server says the file is exactly that long,
            # the partial file is complete (the checksum decides); otherwise start over.
            m = re.fullmatch(r"bytes \*/(\d+)", e.headers.get("Content-Range", "") if e.headers else "")
            if m and int(m.group(1)) == start:
                return
            part.unlink()
            return _fetch(url, part, timeout=timeout, chunk_size=chunk_size, progress=progress, may_restart=False)
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}; fix: check the address (--base-url) and the network") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(f"{url}: cannot connect ({reason}); {resume_hint}") from e

    with resp:
        if start and resp.status == 206:
            m = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != start:
                raise DownloadError(f"{url}: the server resumed at the wrong place "
                                    f"(Content-Range {resp.headers.get('Content-Range')!r}, asked for {start}); "
                                    f"fix: delete {part} and run again")
            mode = "ab"
        else:
            mode, start = "wb", 0  # 200: the server ignored Range and sends the whole file
        length = resp.headers.get("Content-Length")
        length = int(length) if length is not None else None
        total = start + length if length is not None else None
        written = 0
        with open(part, mode) as f:
            try:
                while chunk := resp.read(chunk_size):
                    f.write(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(start + written, total)
            except (OSError, http.client.HTTPException) as e:
                raise DownloadError(f"{url}: connection lost after {start + written} bytes ({e}); {resume_hint}") from e
            finally:
                f.flush()
    # http.client returns b"" (no exception) when the server closes early, so count the bytes
    if length is not None and written < length:
        raise DownloadError(f"{url}: connection closed after {start + written} of {total} bytes; {resume_hint}")
