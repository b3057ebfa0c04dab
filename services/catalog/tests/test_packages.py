"""Package validation from the file: good packages pass, hostile and broken ones are refused
before anything is inflated."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import time
import zipfile
import zlib

import pytest

from mpdp_catalog.packages import PackageInvalid, PackageLimits, validate_package


def make_zip(files: dict[str, bytes | str], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def good_files(**extra) -> dict:
    files = {
        "app.json": json.dumps({"pages": ["pages/index/index", "pages/about/about"], "window": {"title": "Hi"}}),
        "pages/index/index.js": "Page({})",
        "pages/index/index.wxml": "<view>hi</view>",
        "pages/about/about.js": "Page({})",
    }
    files.update(extra)
    return files


def raw_zip(
    entries: list[tuple[str, bytes, int, int]], *, unlisted: frozenset[str] = frozenset(), local_names: dict | None = None
) -> bytes:
    """A zip written by hand: (name, deflated data, crc, uncompressed size) per entry. Entries
    named in `unlisted` are left out of the central directory; `local_names` gives an entry's
    local header another name than its central record."""
    body, central, listed = b"", b"", 0
    for name, data, crc, size in entries:
        encoded, local = name.encode(), (local_names or {}).get(name, name).encode()
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(local), 0) + local + data
        if name in unlisted:
            continue
        listed += 1
        central += (
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset)
            + encoded
        )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, listed, listed, len(central), len(body), 0)
    return body + central + end


def deflated(name: str, raw: bytes) -> tuple[str, bytes, int, int]:
    return name, small_deflate(raw), zlib.crc32(raw), len(raw)


def good_entries() -> list[tuple[str, bytes, int, int]]:
    return [deflated(name, content.encode()) for name, content in good_files().items()]


def zip_bomb(entries: int = 100, entry_mib: int = 100) -> bytes:
    """`entries` x `entry_mib` MiB of zeros (10 GiB by default) in about 10 MB: one deflate stream reused."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros, chunks, crc = b"\0" * (1 << 20), [], 0
    for _ in range(entry_mib):
        chunks.append(compressor.compress(zeros))
        crc = zlib.crc32(zeros, crc)
    data = b"".join(chunks) + compressor.flush()
    manifest = json.dumps({"pages": ["index"]}).encode()
    small = zlib.compressobj(9, zlib.DEFLATED, -15)
    manifest_data = small.compress(manifest) + small.flush()
    files = [("app.json", manifest_data, zlib.crc32(manifest), len(manifest))]
    js = small_deflate(b"Page({})")
    files.append(("index.js", js, zlib.crc32(b"Page({})"), 8))
    files += [(f"assets/zero-{index}.bin", data, crc, entry_mib << 20) for index in range(entries)]
    return raw_zip(files)


def small_deflate(raw: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(raw) + compressor.flush()


def check(tmp_path, content: bytes, limits: PackageLimits | None = None):
    path = tmp_path / "package.zip"
    path.write_bytes(content)
    return validate_package(str(path), limits)


def refused(tmp_path, content: bytes, limits: PackageLimits | None = None) -> str:
    with pytest.raises(PackageInvalid) as caught:
        check(tmp_path, content, limits)
    return str(caught.value)


def test_a_good_package_names_its_pages(tmp_path):
    manifest = check(tmp_path, make_zip(good_files()))
    assert manifest.pages == ["pages/index/index", "pages/about/about"]
    assert manifest.entry_page == "pages/index/index"
    assert manifest.entries == 4
    stored = check(tmp_path, make_zip(good_files(), compression=zipfile.ZIP_STORED))
    assert stored.entry_page == "pages/index/index"


def test_not_a_zip(tmp_path):
    assert "not a zip" in refused(tmp_path, b"just some text, named .zip")
    assert "not a zip" in refused(tmp_path, b"")
    assert "zip" in refused(tmp_path, make_zip(good_files())[:-30])


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "pages/../../x.js", "C:/windows/x.js", "a\\..\\b.js"])
def test_paths_outside_the_package(tmp_path, name):
    message = refused(tmp_path, make_zip(good_files(**{name: "x"})))
    assert any(word in message for word in ("outside", "absolute", "backslash"))


def test_symlinks(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in good_files().items():
            archive.writestr(name, content)
        link = zipfile.ZipInfo("pages/secret")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert "symbolic link" in refused(tmp_path, buffer.getvalue())


def test_manifest_problems(tmp_path):
    files = good_files()
    del files["app.json"]
    assert "no app.json" in refused(tmp_path, make_zip(files))
    assert "not valid JSON" in refused(tmp_path, make_zip(good_files(**{"app.json": "{pages: "})))
    assert "non-empty list" in refused(tmp_path, make_zip(good_files(**{"app.json": json.dumps({"pages": []})})))
    assert "non-empty list" in refused(tmp_path, make_zip(good_files(**{"app.json": json.dumps(["index"])})))
    missing = json.dumps({"pages": ["pages/index/index", "pages/gone/gone"]})
    assert "pages/gone/gone" in refused(tmp_path, make_zip(good_files(**{"app.json": missing})))
    with_extension = json.dumps({"pages": ["pages/index/index.js"]})
    assert "without extension" in refused(tmp_path, make_zip(good_files(**{"app.json": with_extension})))
    nested_manifest = {f"sub/{name}": content for name, content in good_files().items()}
    assert "no app.json" in refused(tmp_path, make_zip(nested_manifest))


def test_too_many_entries(tmp_path):
    files = good_files(**{f"assets/{index}.txt": "x" for index in range(20)})
    assert "entries" in refused(tmp_path, make_zip(files), PackageLimits(max_entries=10))


def test_a_ten_gigabyte_zip_bomb_is_refused_without_inflating_it(tmp_path):
    bomb = zip_bomb()
    assert len(bomb) < 12 * 1024 * 1024
    started = time.monotonic()
    message = refused(tmp_path, bomb)
    assert "zip bomb" in message or "unpacks to more than" in message
    assert time.monotonic() - started < 2.0


def test_declared_sizes_are_capped_in_total(tmp_path):
    # Modest ratios, but more in total than allowed: refused from the central directory alone.
    files = good_files(**{f"assets/{index}.bin": os.urandom(100_000) for index in range(5)})
    assert "unpacks to more than" in refused(tmp_path, make_zip(files), PackageLimits(max_unpacked_bytes=300_000))


def test_headers_that_lie_about_sizes_are_caught(tmp_path):
    content = b"Page({})" * 1000
    deflated = small_deflate(content)
    manifest = json.dumps({"pages": ["index"]}).encode()
    lying = raw_zip(
        [
            ("app.json", small_deflate(manifest), zlib.crc32(manifest), len(manifest)),
            ("index.js", deflated, zlib.crc32(content), 10),  # claims 10 bytes, inflates to 8000
        ]
    )
    assert "zip" in refused(tmp_path, lying)


def test_a_local_entry_prepended_outside_the_central_directory_is_refused(tmp_path):
    good = make_zip(good_files())
    evil = raw_zip([deflated("../../../../tmp/evil.js", b"alert(1)")], unlisted=frozenset({"../../../../tmp/evil.js"}))
    hidden = evil[: evil.index(b"PK\x05\x06")]  # its local header and data alone
    assert zipfile.ZipFile(io.BytesIO(hidden + good)).namelist() == list(good_files())  # zipfile looks past it
    assert "central directory" in refused(tmp_path, hidden + good)
    assert "central directory" in refused(tmp_path, b"\0" * 64 + good)


def test_an_entry_hidden_between_listed_entries_is_refused(tmp_path):
    entries = good_entries()
    entries.insert(2, deflated("evil.js", b"alert(1)"))
    assert "central directory" in refused(tmp_path, raw_zip(entries, unlisted=frozenset({"evil.js"})))


def test_a_local_header_that_names_another_file_than_its_central_record_is_refused(tmp_path):
    content = raw_zip(good_entries(), local_names={"pages/index/index.js": "../../../evil/index.js"})
    assert "local header" in refused(tmp_path, content)


def test_bytes_after_the_end_of_the_archive_are_refused(tmp_path):
    assert "central directory" in refused(tmp_path, make_zip(good_files()) + b"PK\x03\x04 trailing")


def test_streamed_zips_with_data_descriptors_and_comments_pass(tmp_path):
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.data = b""

        def writable(self):
            return True

        def write(self, chunk):
            self.data += bytes(chunk)
            return len(chunk)

    stream = Unseekable()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in good_files().items():
            archive.writestr(name, content)
        archive.comment = b"built by a pipeline"
    assert zipfile.ZipFile(io.BytesIO(stream.data)).infolist()[0].flag_bits & 0x08
    assert check(tmp_path, stream.data).entry_page == "pages/index/index"
