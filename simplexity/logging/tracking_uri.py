"""Checks an MLflow tracking URI before a run writes anything: its scheme, its server, or its local store.

Only the check is here; `simplexity.logging.mlflow_logger` logs. A run calls `check_tracking_uri` before it
creates its run directory, so that a URI MLflow cannot use ends the run in one line with nothing written. MLflow is
imported by the functions that read a URI as MLflow does (`check_tracking_uri`, `tracking_schemes`,
`file_store_path`); importing this module does not load it.
"""

import importlib.metadata
import importlib.util
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from simplexity.errors import TrackingUriError

KEY = "logging.mlflow.tracking_uri"
# Statuses with which a server that serves MLflow behind authentication answers an anonymous `/health`.
_AUTH_STATUSES = (401, 403)


def tracking_schemes() -> set[str]:
    """Returns the URI schemes MLflow has a tracking store for: paths, files, servers, databases and plugins.

    The empty scheme is a plain path (a file store); databases need SQLAlchemy; plugins register their schemes
    under the `mlflow.tracking_store` entry point group.
    """
    from mlflow.store.db.db_types import DATABASE_ENGINES

    schemes = {"", "file", "http", "https", "databricks"}
    if importlib.util.find_spec("sqlalchemy") is not None:
        schemes.update(DATABASE_ENGINES)
    schemes.update(entry.name for entry in importlib.metadata.entry_points(group="mlflow.tracking_store"))
    return schemes


def file_store_path(uri: str) -> Path | None:
    """Returns the directory of a file store URI (`file:...` or a plain path), or None for any other URI."""
    from mlflow.utils.file_utils import local_file_uri_to_path
    from mlflow.utils.uri import get_uri_scheme

    if uri == "databricks" or get_uri_scheme(uri) not in {"", "file"}:
        return None
    return Path(local_file_uri_to_path(uri))


def database_path(uri: str) -> Path | None:
    """Returns the database file of a SQLite URI (`sqlite:///<path>`), or None for any other URI or an in-memory one.

    Example:
        >>> database_path("sqlite:////runs/a/mlflow.db")
        PosixPath('/runs/a/mlflow.db')
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = uri[len(prefix) :].split("?", 1)[0]
    return None if path in {"", ":memory:"} else Path(path)


def server_answer(uri: str, timeout_seconds: float = 5.0) -> str | None:
    """Returns None when an HTTP(S) tracking server answers `GET <uri>/health` in time, or else why not.

    A server that answers with a status that an MLflow server behind authentication gives (401, 403) answers;
    any other error status, no connection, or no answer within `timeout_seconds` is the reason returned.
    `MLFLOW_TRACKING_INSECURE_TLS` and `MLFLOW_TRACKING_SERVER_CERT_PATH` apply as they do to MLflow's client.
    """
    probe = f"{uri.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(probe, timeout=timeout_seconds, context=_ssl_context(uri)):
            return None
    except urllib.error.HTTPError as error:
        return None if error.code in _AUTH_STATUSES else f"{probe} answered HTTP {error.code}"
    except (OSError, ValueError) as error:
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        return f"cannot reach {probe} within {timeout_seconds:g} s: {reason or type(error).__name__}"


def check_tracking_uri(uri: str, timeout_seconds: float = 5.0) -> None:
    """Raises a `TrackingUriError` (exit code 6) naming `logging.mlflow.tracking_uri` when MLflow cannot log to `uri`.

    Checked: a URI without a scheme is an absolute path (a relative one would be taken from whichever directory
    the command runs in); the scheme is one MLflow has a tracking store for (see `tracking_schemes`); an HTTP(S)
    server answers within `timeout_seconds` (see `server_answer`); a file store's directory, or a SQLite
    database's directory, exists or can be created. Nothing is written. Other database URIs and Databricks are
    checked for their scheme only.

    Example:
        >>> check_tracking_uri("ftp://127.0.0.1/runs")
        Traceback (most recent call last):
        ...
        simplexity.errors.TrackingUriError: logging.mlflow.tracking_uri='ftp://127.0.0.1/runs': MLflow ...
    """
    from mlflow.utils.uri import get_uri_scheme

    scheme = get_uri_scheme(uri)
    if scheme == "" and uri != "databricks" and not Path(uri).is_absolute():
        raise TrackingUriError.invalid(
            KEY, uri, "has no scheme and is not an absolute path; use file:PATH, http(s)://HOST:PORT or a database URI"
        )
    if uri != "databricks" and scheme not in tracking_schemes():
        raise TrackingUriError.invalid(
            KEY,
            uri,
            f"MLflow has no tracking store for the scheme {scheme!r}; use a path, a file:, http(s): or database "
            "URI, or null for a SQLite store in the run directory",
        )
    if scheme in {"http", "https"}:
        reason = server_answer(uri, timeout_seconds)
        if reason is not None:
            raise TrackingUriError.invalid(
                KEY, uri, f"no MLflow tracking server there: {reason}; start one (`mlflow server`) or use null"
            )
    path = file_store_path(uri)
    if path is not None:
        _check_creatable(uri, path.absolute(), "the file store")
    database = database_path(uri)
    if database is not None:
        if database.is_dir():
            raise TrackingUriError.invalid(KEY, uri, f"the SQLite database {database.absolute()} is a directory")
        _check_creatable(uri, database.absolute().parent, "the directory of the SQLite database")


def _check_creatable(uri: str, path: Path, what: str) -> None:
    """Raises a `TrackingUriError` unless `path` is a directory or could be created as one (without creating it)."""
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        where = "is not a directory" if existing == path else f"cannot be created: {existing} is not a directory"
        raise TrackingUriError.invalid(KEY, uri, f"{what} {path} {where}")
    if existing != path and not os.access(existing, os.W_OK | os.X_OK):
        raise TrackingUriError.invalid(KEY, uri, f"{what} {path} cannot be created: {existing} is not writable")


def _ssl_context(uri: str) -> ssl.SSLContext | None:
    """Returns the TLS context MLflow's client would use for `uri` (None: urllib's default, or plain HTTP)."""
    if not uri.startswith("https"):
        return None
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    certificate = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    return ssl.create_default_context(cafile=certificate) if certificate else None
