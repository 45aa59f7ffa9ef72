"""The project's exceptions: the only ones a user sees as text.

Every message is one line that names the thing that is wrong (a file and line, a config
field, an environment variable) and, where there is one, the fix.
"""

from __future__ import annotations

import errno


class Pk8Error(Exception):
    """Base class: the CLI prints `error: <message>` and exits 1, no traceback."""


class ConfigError(Pk8Error):
    """A config file, a `--set key=value`, or a `.env` setting is wrong."""


class RecordingError(Pk8Error):
    """A recording (frames file or manifest) cannot be read as a session."""


class DataSelectionError(Pk8Error):
    """A selection of sessions matched nothing or is otherwise unusable."""


class ConnectionFailed(Pk8Error):
    """A venue endpoint could not be reached after retries."""


_OS_HINTS = {
    errno.ENOENT: "check the path: a folder it needs may not exist (create it first)",
    errno.EISDIR: "a directory was given where a file is expected",
    errno.ENOTDIR: "a file was given where a directory is expected",
    errno.ENOSPC: "the disk is full: free some space and run the command again "
    "(what was written before is kept)",
    errno.EDQUOT: "the disk quota is used up: free some space and run the command again",
    errno.EACCES: "no permission: check the file's and its folder's permissions",
    errno.EPERM: "not permitted: check the file's and its folder's permissions",
    errno.EROFS: "the file system is read-only: pick a writable place",
}


def os_error_line(exc: OSError) -> str:
    """An operating-system error as one line: the path, what is wrong, and the fix."""
    what = exc.strerror or str(exc)
    where = exc.filename if exc.filename is not None else None
    head = f"{where}: {what}" if where is not None else what
    hint = _OS_HINTS.get(exc.errno or 0)
    return f"{head} ({hint})" if hint else head
