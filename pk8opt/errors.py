"""The project's exceptions: the only ones a user sees as text.

Every message is one line that names the thing that is wrong (a file and line, a config
field, an environment variable) and, where there is one, the fix.
"""

from __future__ import annotations


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
