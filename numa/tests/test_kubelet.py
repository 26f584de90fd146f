"""numa.kubelet: policies from configz JSON files and a tiny local HTTP kubelet; never raises."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from numa.kubelet import (
    MAX_BODY_BYTES,
    KubeletConfigzError,
    PolicyChange,
    policies_from_configz,
    policy_changes,
    read_kubelet_policies,
)
from numa.tests.helpers import FIXTURES

KUBELET_FIXTURES = FIXTURES / "kubelet"
PINNED = KUBELET_FIXTURES / "configz_pinned.json"
DEFAULT = KUBELET_FIXTURES / "configz_default.json"
TOKEN = "s3cr3t-service-account-token"


class _FakeKubelet(BaseHTTPRequestHandler):
    """/configz needs the bearer token; other paths misbehave in one way each."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/configz" and self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, b"Unauthorized")
        elif self.path in ("/configz", "/slow"):
            self._answer(200, PINNED.read_bytes())
        elif self.path == "/not-json":
            self._answer(200, b"<html>hello</html>")
        elif self.path == "/huge":
            self._answer(200, b" " * (MAX_BODY_BYTES + 10))
        else:
            self._answer(404, b"not found")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def kubelet_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeKubelet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def token_file(tmp_path: Path) -> str:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return str(path)


# ------------------------------------------------------------------ parsing


def test_pinned_configz_gives_the_three_policies() -> None:
    policies, defaulted, details = policies_from_configz(json.loads(PINNED.read_text()))
    assert policies == {
        "cpuManagerPolicy": "static",
        "memoryManagerPolicy": "Static",
        "topologyManagerPolicy": "single-numa-node",
    }
    assert defaulted == []
    assert details == {"topologyManagerScope": "container", "reservedSystemCPUs": "0-1"}


def test_policy_missing_from_configz_gets_the_kubelet_default_and_is_marked() -> None:
    policies, defaulted, _ = policies_from_configz(json.loads(DEFAULT.read_text()))
    assert policies["memoryManagerPolicy"] == "None"
    assert defaulted == ["memoryManagerPolicy"]


def test_bare_kubelet_configuration_is_accepted() -> None:
    document = {"kind": "KubeletConfiguration", "cpuManagerPolicy": "static"}
    policies, defaulted, _ = policies_from_configz(document)
    assert policies["cpuManagerPolicy"] == "static"
    assert set(defaulted) == {"memoryManagerPolicy", "topologyManagerPolicy"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "not a JSON object"),
        ({"something": "else"}, "neither"),
        ({"kubeletconfig": "static"}, "'kubeletconfig' is not an object"),
        ({"kubeletconfig": {"cpuManagerPolicy": 7}}, "cpuManagerPolicy is not a policy name"),
        ({"kubeletconfig": {"cpuManagerPolicy": "x" * 100}}, "cpuManagerPolicy"),
    ],
)
def test_malformed_configz_names_what_is_wrong(document: object, message: str) -> None:
    with pytest.raises(KubeletConfigzError, match=message):
        policies_from_configz(document)


def test_policy_changes_lists_only_the_policies_that_differ() -> None:
    before = {
        "cpuManagerPolicy": "none",
        "memoryManagerPolicy": "None",
        "topologyManagerPolicy": "none",
    }
    after = dict(before, cpuManagerPolicy="static", topologyManagerPolicy="single-numa-node")
    assert policy_changes(before, after) == [
        PolicyChange("cpuManagerPolicy", "none", "static"),
        PolicyChange("topologyManagerPolicy", "none", "single-numa-node"),
    ]
    assert policy_changes(before, before) == []
    assert policy_changes({}, after) == []  # first read: nothing to compare with


# ------------------------------------------------------------------ reading files


def test_reads_a_configz_file_by_path_and_by_file_url() -> None:
    for source in (str(PINNED), f"file://{PINNED}"):
        reading = read_kubelet_policies(source)
        assert reading.available and reading.reason is None
        assert reading.policies["topologyManagerPolicy"] == "single-numa-node"
        assert reading.source == source


def test_unset_source_is_not_available_with_the_setting_named() -> None:
    reading = read_kubelet_policies("")
    assert not reading.available
    assert reading.reason == "not available: NUMA_KUBELET_CONFIGZ_URL not set"


def test_missing_file_is_not_available_not_an_error(tmp_path: Path) -> None:
    reading = read_kubelet_policies(str(tmp_path / "absent.json"))
    assert not reading.available and "absent.json unreadable" in (reading.reason or "")


def test_file_that_is_not_json_is_not_available(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("kind: KubeletConfiguration\ncpuManagerPolicy: static\n")
    reading = read_kubelet_policies(str(path))
    assert not reading.available and "configz is not JSON" in (reading.reason or "")


def test_to_dict_is_json_safe() -> None:
    assert json.loads(json.dumps(read_kubelet_policies(str(PINNED)).to_dict()))["available"]


# ------------------------------------------------------------------ reading over HTTP


def test_reads_configz_over_http_with_the_bearer_token(kubelet_url: str, token_file: str) -> None:
    reading = read_kubelet_policies(f"{kubelet_url}/configz", token_file=token_file)
    assert reading.available
    assert reading.policies["cpuManagerPolicy"] == "static"


def test_refused_token_is_not_available_with_the_status(kubelet_url: str) -> None:
    reading = read_kubelet_policies(f"{kubelet_url}/configz")
    assert not reading.available and "HTTP 401" in (reading.reason or "")


def test_slow_kubelet_is_given_up_at_the_timeout(kubelet_url: str, token_file: str) -> None:
    reading = read_kubelet_policies(f"{kubelet_url}/slow", token_file=token_file, timeout_s=0.2)
    assert not reading.available and "timed out" in (reading.reason or "")


def test_unreachable_kubelet_is_not_available(token_file: str) -> None:
    reading = read_kubelet_policies("http://127.0.0.1:9/configz", token_file=token_file)
    assert not reading.available and "unreachable" in (reading.reason or "")


def test_html_answer_is_not_available(kubelet_url: str) -> None:
    reading = read_kubelet_policies(f"{kubelet_url}/not-json")
    assert not reading.available and "not JSON" in (reading.reason or "")


def test_oversized_answer_is_refused(kubelet_url: str) -> None:
    reading = read_kubelet_policies(f"{kubelet_url}/huge")
    assert not reading.available and "larger than" in (reading.reason or "")


def test_unreadable_token_file_is_not_available(kubelet_url: str, tmp_path: Path) -> None:
    reading = read_kubelet_policies(
        f"{kubelet_url}/configz", token_file=str(tmp_path / "no-token")
    )
    assert not reading.available and "token file" in (reading.reason or "")


def test_empty_token_file_is_not_available(kubelet_url: str, tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")
    reading = read_kubelet_policies(f"{kubelet_url}/configz", token_file=str(empty))
    assert not reading.available and "is empty" in (reading.reason or "")


def test_unusable_ca_file_is_not_available(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not a certificate")
    reading = read_kubelet_policies("https://127.0.0.1:9/configz", ca_file=str(ca_file))
    assert not reading.available and "CA file" in (reading.reason or "")
