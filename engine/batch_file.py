"""A batch's output file: written whole or not at all, resumable after a crash, never left half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from .batch import Summary
from .errors import ZhiduError


class ResumeError(ZhiduError):
    """A partial output cannot be continued (other options, unreadable records)."""

    exit_code = 2
    default_code = "resume"


def partial_path(target: Path) -> Path:
    """Where the output grows until it is complete: beside the target, so the rename stays on one disk."""
    return target.parent / f".{target.name}.zhidu-partial"


def _meta_path(target: Path) -> Path:
    return target.parent / f".{target.name}.zhidu-partial.json"


class BatchFile:
    """`open()` gives (handle, lines already written, their summary, settings); `commit()` fsyncs and
    renames; `discard()` removes the partial file. Without `resume`, a partial left by a crashed run is
    found and removed; with it, the partial is cut after its last complete line and continued."""

    def __init__(self, target: Path, settings: dict[str, Any], resume: bool):
        self.target = target
        self.partial = partial_path(target)
        self.meta = _meta_path(target)
        self.settings = settings
        self.resume = resume
        self.handle: IO[str] | None = None

    def open(self) -> tuple[IO[str], int, Summary, dict[str, Any]]:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        summary = Summary()
        done = 0
        if self.resume and self.partial.is_file():
            stored = self._stored_settings()
            differing = sorted(k for k in self.settings if k != "default_now" and stored.get(k) != self.settings[k])
            if differing:
                raise ResumeError(
                    f"{self.partial}: cannot resume: {', '.join(differing)} differ from the interrupted run "
                    "(run without --resume to start over)"
                )
            self.settings = {**self.settings, "default_now": stored.get("default_now")}
            done = self._cut_and_count(summary)
        else:
            self.partial.unlink(missing_ok=True)
            self.meta.unlink(missing_ok=True)
            _write_synced(self.meta, json.dumps(self.settings, ensure_ascii=False, sort_keys=True))
        self.handle = self.partial.open("a", encoding="utf-8")
        return self.handle, done, summary, self.settings

    def _stored_settings(self) -> dict[str, Any]:
        try:
            stored = json.loads(self.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ResumeError(f"{self.meta}: cannot resume: the run's settings are unreadable ({exc})") from None
        if not isinstance(stored, dict):
            raise ResumeError(f"{self.meta}: cannot resume: the run's settings are unreadable")
        return stored

    def _cut_and_count(self, summary: Summary) -> int:
        """Drop a last line cut off by the crash, then count the complete ones."""
        with self.partial.open("r+b") as handle:
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
        done = 0
        for number, raw in enumerate(data[:keep].splitlines(), start=1):
            try:
                summary.add_record(raw.decode("utf-8"))
            except (ValueError, AttributeError) as exc:
                raise ResumeError(f"{self.partial}:{number}: cannot resume: not a batch record ({exc})") from None
            done += 1
        return done

    def commit(self, mode: int) -> None:
        """Flush to disk, then rename over the target and record the rename in the folder."""
        if self.handle is None:
            return
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.chmod(self.partial, mode)
        os.replace(self.partial, self.target)
        _fsync_dir(self.target.parent)
        self.meta.unlink(missing_ok=True)

    def discard(self) -> None:
        if self.handle is not None and not self.handle.closed:
            try:
                self.handle.close()
            except OSError:
                pass  # the file is removed below: what could not be flushed is lost anyway
        self.partial.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some file systems do not open folders; the rename itself has happened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
