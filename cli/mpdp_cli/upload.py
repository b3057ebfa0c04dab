"""Uploading a version: zip a folder (or take a zip), and stream it as multipart/form-data with
a progress line on stderr; the package is read from disk in chunks, never held in memory whole."""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from typing import BinaryIO, TextIO

CHUNK = 256 * 1024


def zip_directory(directory: str, target: BinaryIO) -> int:
    """Write the folder's files into `target` as a zip, paths relative to the folder; returns the count."""
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for root, folders, files in os.walk(directory):
            folders[:] = sorted(name for name in folders if not name.startswith(".") and name not in ("node_modules", "__pycache__"))
            for name in sorted(files):
                path = os.path.join(root, name)
                if name.startswith(".") or os.path.islink(path):
                    continue
                archive.write(path, os.path.relpath(path, directory).replace(os.sep, "/"))
                count += 1
    return count


class MultipartBody:
    """A multipart/form-data body read in chunks: the form fields, then the file from disk.

    requests streams an object with `read` and a known `len`, with a Content-Length header."""

    def __init__(
        self,
        fields: dict[str, str],
        file_field: str,
        file_path: str,
        file_name: str,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.boundary = "mpdp-" + secrets.token_hex(16)
        head = b""
        for name, value in fields.items():
            head += f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
            "Content-Type: application/zip\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._parts: list[bytes | None] = [head, None, tail]
        self._file_path = file_path
        self._file: BinaryIO | None = None
        self.file_size = os.path.getsize(file_path)
        self.length = len(head) + self.file_size + len(tail)
        self.sent = 0
        self._progress = progress

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = CHUNK) -> bytes:
        size = CHUNK if size is None or size < 0 else size
        while self._parts:
            part = self._parts[0]
            if part is None:
                if self._file is None:
                    self._file = open(self._file_path, "rb")  # noqa: SIM115 - closed when read to its end
                data = self._file.read(size)
                if not data:
                    self._file.close()
                    self._parts.pop(0)
                    continue
            else:
                data, rest = part[:size], part[size:]
                if rest:
                    self._parts[0] = rest
                else:
                    self._parts.pop(0)
            self.sent += len(data)
            if self._progress:
                self._progress(self.sent, self.length)
            return data
        return b""


class Progress:
    """`uploading  12.0/20.0 MB  60%  8.1 MB/s` on stderr, redrawn at most ten times a second."""

    def __init__(self, stream: TextIO = sys.stderr, label: str = "uploading"):
        self.stream, self.label = stream, label
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, sent: int, total: int) -> None:
        now = time.monotonic()
        if sent < total and now - self.last < 0.1:
            return
        self.last = now
        rate = sent / max(now - self.started, 1e-6) / 1e6
        end = "\n" if sent >= total else ""
        self.stream.write(f"\r{self.label} {sent / 1e6:6.1f}/{total / 1e6:.1f} MB {100 * sent // max(total, 1):3d}%  {rate:5.1f} MB/s{end}")
        self.stream.flush()


def package_file(path: str) -> tuple[str, bool]:
    """The zip to upload for `path` and whether it is a temporary file made from a folder."""
    if os.path.isdir(path):
        descriptor, temporary = tempfile.mkstemp(prefix="mpdp-package-", suffix=".zip")
        try:
            with os.fdopen(descriptor, "wb") as target:
                count = zip_directory(path, target)
        except BaseException:
            os.unlink(temporary)
            raise
        print(f"packed {count} files from {path} ({os.path.getsize(temporary) / 1e6:.1f} MB)", file=sys.stderr)
        return temporary, True
    if os.path.isfile(path):
        return path, False
    raise FileNotFoundError(path)
