import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simplexity.config import ConfigError
from simplexity.logging import check_tracking_uri
from simplexity.logging.tracking_uri import file_store_path, server_answer

pytestmark = pytest.mark.stack  # MLflow and pandas: run on the plain-install stack and on the extras' stack


@pytest.fixture
def http_server(request) -> Iterator[str]:
    """A local HTTP server whose every GET answers with the status `request.param`; yields its URI."""
    status = request.param

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.end_headers()

        def log_message(self, format, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("uri", ["ftp://127.0.0.1:1/x", "s3://bucket/runs"])
def test_a_scheme_without_a_tracking_store_is_refused(uri):
    with pytest.raises(ConfigError, match=r"^logging\.mlflow\.tracking_uri='.*': MLflow has no tracking store"):
        check_tracking_uri(uri)


def test_a_server_that_refuses_the_connection_is_refused():
    with pytest.raises(ConfigError, match=r"tracking_uri='http://127.0.0.1:1': no MLflow tracking server there"):
        check_tracking_uri("http://127.0.0.1:1")


def test_a_server_that_does_not_answer_in_time_is_refused():
    with socket.create_server(("127.0.0.1", 0)) as listening:  # accepts connections, never answers
        uri = f"http://127.0.0.1:{listening.getsockname()[1]}"
        with pytest.raises(ConfigError, match=r"within 0\.2 s: timed out"):
            check_tracking_uri(uri, timeout_seconds=0.2)


@pytest.mark.parametrize(
    ("http_server", "answer"),
    [(200, None), (401, None), (403, None), (404, "/health answered HTTP 404"), (503, "/health answered HTTP 503")],
    indirect=["http_server"],
)
def test_a_server_answers_with_success_or_an_authentication_status(http_server, answer):
    reason = server_answer(http_server)
    if answer is None:
        assert reason is None
    else:
        assert reason is not None and answer in reason


def test_a_file_store_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"cannot be created: .*/file is not a directory"):
        check_tracking_uri((tmp_path / "file" / "mlruns").as_uri())
    with pytest.raises(ConfigError, match=r"the file store .*/file is not a directory"):
        check_tracking_uri(str(tmp_path / "file"))


def test_a_file_store_that_can_be_created_passes_and_is_not_created(tmp_path):
    check_tracking_uri((tmp_path / "new" / "mlruns").as_uri())
    check_tracking_uri(str(tmp_path / "mlruns"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("file:///tmp/runs", "/tmp/runs"), ("/tmp/runs", "/tmp/runs"), ("http://host:5000", None), ("sqlite:///x", None)],
)
def test_file_store_paths(uri, expected):
    path = file_store_path(uri)
    assert (None if path is None else str(path)) == expected


def test_database_and_databricks_uris_pass_on_their_scheme():
    check_tracking_uri("sqlite:////nonexistent/mlflow.db")
    check_tracking_uri("databricks")


def test_a_sqlite_database_under_a_file_or_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"the directory of the SQLite database .*/file is not a directory"):
        check_tracking_uri(f"sqlite:///{tmp_path / 'file' / 'mlflow.db'}")
    with pytest.raises(ConfigError, match=r"the SQLite database .*/new is a directory"):
        (tmp_path / "new").mkdir()
        check_tracking_uri(f"sqlite:///{tmp_path / 'new'}")


def test_a_sqlite_database_that_can_be_created_passes_and_is_not_created(tmp_path):
    check_tracking_uri(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    check_tracking_uri("sqlite:///:memory:")
    assert list(tmp_path.iterdir()) == []
