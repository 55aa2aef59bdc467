"""Deterministic WebDataset tar shard writer: plain ustar, members in the order given, fixed
mtime/uid/gid/owner names and mode, so the same samples always give byte-identical shards."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

FIXED_MTIME = 0


class ShardWriter:
    """Writes samples to `pattern.format(i)` (e.g. "emoji-{:03d}.tar"), `shard_size` per shard."""

    def __init__(self, directory: Path, pattern: str, shard_size: int):
        if shard_size <= 0:
            raise ValueError(f"shard size {shard_size}")
        self.directory = directory
        self.pattern = pattern
        self.shard_size = shard_size
        self.paths: list[Path] = []
        self._tar: tarfile.TarFile | None = None
        self._in_shard = 0

    def write(self, key: str, fields: dict[str, bytes]) -> None:
        """One sample: members "<key>.<ext>" in sorted ext order."""
        if "." in key or "/" in key:
            raise ValueError(f"key {key!r} must not contain '.' or '/'")
        if self._tar is None or self._in_shard == self.shard_size:
            self._open_next()
        for ext in sorted(fields):
            data = fields[ext]
            info = tarfile.TarInfo(f"{key}.{ext}")
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            self._tar.addfile(info, io.BytesIO(data))
        self._in_shard += 1

    def _open_next(self) -> None:
        self.close()
        path = self.directory / self.pattern.format(len(self.paths))
        self.paths.append(path)
        self._tar = tarfile.open(path, "w", format=tarfile.USTAR_FORMAT)
        self._in_shard = 0

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None
