"""Uploaded files on disk, named by their SHA-256: the same photo twice is one file, and a
file's name proves its content."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MediaStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError("not a SHA-256 hex digest")
        # Two levels of fan-out keep directories small at tens of thousands of photos a month.
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, sha256: str, body: bytes) -> bool:
        """Store `body` under its hash; False when it was already there."""
        target = self.path_of(sha256)
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then rename: a reader never sees half a photo, and two uploads of
        # the same photo at once both end with the same complete file.
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(body)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return True

    def read(self, sha256: str) -> bytes | None:
        try:
            return self.path_of(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None
