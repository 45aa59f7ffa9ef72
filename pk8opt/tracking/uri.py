"""Is a tracking URI one MLflow can open? Checked before anything is started with it."""

from __future__ import annotations

from pk8opt.errors import ConfigError
from pk8opt.redact import mask_url

# The stores MLflow's tracking accepts: files, databases (SQLAlchemy), a tracking server.
SCHEMES = ("file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def check_tracking_uri(uri: str, option: str = "--tracking-uri") -> str:
    """`uri` itself, or one `ConfigError` line naming it and the schemes that work."""
    scheme = uri.split("://", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if scheme and scheme not in SCHEMES:
        raise ConfigError(
            f"{option} {mask_url(uri)}: MLflow cannot open a {scheme!r} store; use one of "
            f"{', '.join(s + '://' for s in SCHEMES)} or a folder path, e.g. "
            "sqlite:///experiments/mlflow.db"
        )
    return uri
