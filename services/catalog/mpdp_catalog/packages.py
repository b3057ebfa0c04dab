"""Validating an uploaded package from its file, before anything of it is stored.

A package is a zip with `app.json` at its root whose `pages` list names the pages (the first is
the entry page) as paths without extension; every page has its `.js` file in the zip. The checks
read the central directory first, make sure that it accounts for every byte of the file, and
refuse hostile archives (absolute or `..` paths, symlinks, too many entries, zip bombs by declared
size or compression ratio) before inflating a byte; the final pass inflates each entry with a
byte budget, so that headers that lie cannot get further.
"""

from __future__ import annotations

import json
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

MANIFEST = "app.json"
_PAGE = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$")


@dataclass(frozen=True)
class PackageLimits:
    max_entries: int = 5000
    max_unpacked_bytes: int = 512 * 1024 * 1024
    #: an entry's uncompressed size over its compressed size (text compresses ~3-10x; a bomb ~1000x)
    max_ratio: int = 100
    #: entries under this size are not held to the ratio (a small run of spaces compresses well)
    ratio_floor_bytes: int = 64 * 1024
    max_manifest_bytes: int = 1024 * 1024
    max_pages: int = 1000


@dataclass
class Manifest:
    pages: list[str]
    entries: int = 0
    unpacked_bytes: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def entry_page(self) -> str:
        return self.pages[0]


class PackageInvalid(ValueError):
    pass


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _check_name(name: str) -> None:
    if not name or "\x00" in name:
        raise PackageInvalid("An entry has an empty or binary name.")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise PackageInvalid(f"The entry {name!r} has an absolute path.")
    if "\\" in name:
        raise PackageInvalid(f"The entry {name!r} uses backslashes; zip paths use '/'.")
    if ".." in name.split("/"):
        raise PackageInvalid(f"The entry {name!r} points outside the package ('..').")


_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_END_RECORD = struct.Struct("<4sHHHHIIH")
_ZIP64_END_AND_LOCATOR = 56 + 20
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"


def check_layout(stream: BinaryIO, archive: zipfile.ZipFile) -> None:
    """Refuse any byte that the central directory does not account for. zipfile reads only the
    central directory, but a host app that unzips by local headers (Java's ZipInputStream, many
    mobile unzippers) would also extract an entry hidden before, between or after the listed ones:
    so the archive starts at offset 0, the entries follow one another without a gap, each local
    header matches its central record, and the central directory and end record close the file."""
    size = stream.seek(0, 2)
    end_at = size - _END_RECORD.size - len(archive.comment)
    stream.seek(end_at)
    end = _END_RECORD.unpack(stream.read(_END_RECORD.size))
    directory_size, directory_at = end[5], end[6]
    if end[0] != b"PK\x05\x06" or directory_at != archive.start_dir:
        raise PackageInvalid("The package holds bytes before its entries or after its end that its central directory does not list.")
    if archive.start_dir + directory_size not in (end_at, end_at - _ZIP64_END_AND_LOCATOR):
        raise PackageInvalid("The package holds bytes between its central directory and its end that the directory does not list.")
    expected = 0
    for info in sorted(archive.infolist(), key=lambda item: item.header_offset):
        if info.header_offset != expected:
            raise PackageInvalid(f"The package holds bytes before the entry {info.filename!r} that its central directory does not list.")
        stream.seek(info.header_offset)
        header = stream.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size:
            raise PackageInvalid(f"The entry {info.filename!r} has no local header.")
        signature, _version, flags, method, _time, _date, _crc, compressed, _size, name_length, extra_length = _LOCAL_HEADER.unpack(header)
        name = stream.read(name_length)
        if (
            signature != b"PK\x03\x04"
            or method != info.compress_type
            or name.decode("utf-8" if flags & 0x800 else "cp437") != info.orig_filename
        ):
            raise PackageInvalid(f"The local header of the entry {info.filename!r} does not match its central directory record.")
        if not flags & 0x08 and compressed not in (info.compress_size, 0xFFFFFFFF):
            raise PackageInvalid(f"The local header of the entry {info.filename!r} does not match its central directory record.")
        expected = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
        if flags & 0x08:  # a data descriptor follows: crc and both sizes, after an optional signature
            stream.seek(expected)
            expected += (4 if stream.read(4) == _DESCRIPTOR_SIGNATURE else 0) + (20 if info.file_size >= 0xFFFFFFFF else 12)
    if expected != archive.start_dir:
        raise PackageInvalid("The package holds bytes after its last entry that its central directory does not list.")


def check_entries(archive: zipfile.ZipFile, limits: PackageLimits) -> tuple[set[str], int]:
    """Every check that the central directory answers; nothing is inflated here."""
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise PackageInvalid(f"The package has {len(infos)} entries; at most {limits.max_entries} are allowed.")
    names: set[str] = set()
    total = 0
    for info in infos:
        _check_name(info.filename)
        if info.filename in names:
            raise PackageInvalid(f"The entry {info.filename!r} appears twice.")
        names.add(info.filename)
        if _is_symlink(info):
            raise PackageInvalid(f"The entry {info.filename!r} is a symbolic link; packages hold plain files only.")
        if info.flag_bits & 0x1:
            raise PackageInvalid(f"The entry {info.filename!r} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackageInvalid(f"The entry {info.filename!r} uses an unsupported compression method; use deflate.")
        total += info.file_size
        if total > limits.max_unpacked_bytes:
            raise PackageInvalid(f"The package unpacks to more than {limits.max_unpacked_bytes} bytes.")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise PackageInvalid(
                f"The entry {info.filename!r} compresses {info.file_size // max(info.compress_size, 1)}:1; "
                f"at most {limits.max_ratio}:1 is allowed (zip bomb)."
            )
    return names, total


def read_manifest(archive: zipfile.ZipFile, names: set[str], limits: PackageLimits) -> list[str]:
    if MANIFEST not in names:
        raise PackageInvalid(f"The package has no {MANIFEST} at its root.")
    with archive.open(MANIFEST) as stream:
        raw = stream.read(limits.max_manifest_bytes + 1)
    if len(raw) > limits.max_manifest_bytes:
        raise PackageInvalid(f"{MANIFEST} is over {limits.max_manifest_bytes} bytes.")
    try:
        manifest = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackageInvalid(f"{MANIFEST} is not valid JSON: {error}.") from None
    pages = manifest.get("pages") if isinstance(manifest, dict) else None
    if not isinstance(pages, list) or not pages or not all(isinstance(page, str) for page in pages):
        raise PackageInvalid(f'{MANIFEST} needs "pages": a non-empty list of page paths (the first is the entry page).')
    if len(pages) > limits.max_pages:
        raise PackageInvalid(f"{MANIFEST} names {len(pages)} pages; at most {limits.max_pages} are allowed.")
    for page in pages:
        if not _PAGE.match(page) or posixpath.normpath(page) != page:
            raise PackageInvalid(f'The page {page!r} is not a relative path without extension (like "pages/index/index").')
    if len(set(pages)) != len(pages):
        raise PackageInvalid(f"{MANIFEST} names a page twice.")
    missing = [page for page in pages if f"{page}.js" not in names]
    if missing:
        raise PackageInvalid(f"These pages have no .js file in the package: {', '.join(missing[:10])}.")
    return pages


def check_integrity(archive: zipfile.ZipFile, limits: PackageLimits) -> int:
    """Inflate every entry once (CRC checked), never more than the budget in all."""
    budget = limits.max_unpacked_bytes
    for info in archive.infolist():
        if info.is_dir():
            continue
        with archive.open(info) as stream:
            while chunk := stream.read(256 * 1024):
                budget -= len(chunk)
                if budget < 0:
                    raise PackageInvalid(f"The package unpacks to more than {limits.max_unpacked_bytes} bytes.")
    return limits.max_unpacked_bytes - budget


def validate_package(path: str, limits: PackageLimits | None = None) -> Manifest:
    """The package's manifest, or PackageInvalid saying what is wrong with it."""
    limits = limits or PackageLimits()
    if not zipfile.is_zipfile(path):
        raise PackageInvalid("The package is not a zip archive.")
    try:
        with open(path, "rb") as stream, zipfile.ZipFile(stream) as archive:
            check_layout(stream, archive)
            names, _declared = check_entries(archive, limits)
            pages = read_manifest(archive, names, limits)
            unpacked = check_integrity(archive, limits)
            return Manifest(pages=pages, entries=len(names), unpacked_bytes=unpacked)
    except PackageInvalid:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        zlib.error,
    ) as error:
        raise PackageInvalid(f"The package is not a readable zip archive: {error}.") from None
