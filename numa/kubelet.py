"""Kubernetes placement policies of one node, read from the kubelet's configz.

The kubelet serves its running configuration at GET https://<node>:10250/configz as
{"kubeletconfig": {... "cpuManagerPolicy": "static", "memoryManagerPolicy": "Static",
"topologyManagerPolicy": "single-numa-node" ...}} (bearer token of a service account allowed
nodes/proxy or nodes/configz). The same JSON saved to a file, or a bare KubeletConfiguration in
JSON, is read from a path. ``read_kubelet_policies`` never raises: every failure becomes
available=False with the reason, so a host without Kubernetes just shows "not available".

Pure module: no Django.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

POLICY_KEYS: tuple[str, ...] = (
    "cpuManagerPolicy",
    "memoryManagerPolicy",
    "topologyManagerPolicy",
)
# What the kubelet runs with when its configuration leaves a policy out (KubeletConfiguration
# v1beta1 defaults); configz normally prints them, older kubelets omit the memory manager.
KUBELET_DEFAULTS: dict[str, str] = {
    "cpuManagerPolicy": "none",
    "memoryManagerPolicy": "None",
    "topologyManagerPolicy": "none",
}
# Shown with the policies, but a change of them is not a pinning event on its own.
DETAIL_KEYS: tuple[str, ...] = ("topologyManagerScope", "reservedSystemCPUs")
DEFAULT_TIMEOUT_S = 5.0
# configz is a few kB; anything much larger is not a kubelet answering.
MAX_BODY_BYTES = 1024 * 1024
MAX_POLICY_LENGTH = 64


class KubeletConfigzError(ValueError):
    """A configz document is not what the kubelet serves (names what is wrong)."""


@dataclass
class KubeletPolicies:
    """One read of the kubelet's policies, or why there is none."""

    available: bool
    source: str
    policies: dict[str, str] = field(default_factory=dict)
    # Policies absent from configz, filled in with KUBELET_DEFAULTS.
    defaulted: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PolicyChange:
    """One policy that differs between two reads."""

    key: str
    before: str
    after: str

    def describe(self) -> str:
        return f"{self.key}: {self.before} -> {self.after}"


def policies_from_configz(document: Any) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(policies, keys defaulted, details) from a parsed configz document.

    Accepts {"kubeletconfig": {...}} (what /configz serves) or a bare KubeletConfiguration.
    """
    if not isinstance(document, dict):
        raise KubeletConfigzError("configz is not a JSON object")
    config = document.get("kubeletconfig", document)
    if not isinstance(config, dict):
        raise KubeletConfigzError("configz 'kubeletconfig' is not an object")
    if "kubeletconfig" not in document and document.get("kind") != "KubeletConfiguration":
        raise KubeletConfigzError(
            "neither {'kubeletconfig': ...} nor a KubeletConfiguration object"
        )
    policies: dict[str, str] = {}
    defaulted: list[str] = []
    for key in POLICY_KEYS:
        value = config.get(key)
        if value is None:
            policies[key] = KUBELET_DEFAULTS[key]
            defaulted.append(key)
        elif isinstance(value, str) and 0 < len(value) <= MAX_POLICY_LENGTH:
            policies[key] = value
        else:
            raise KubeletConfigzError(f"{key} is not a policy name: {str(value)[:40]!r}")
    details: dict[str, str] = {}
    for key in DETAIL_KEYS:
        value = config.get(key)
        if isinstance(value, str) and value:
            details[key] = value[:MAX_POLICY_LENGTH]
    return policies, defaulted, details


def policy_changes(previous: dict[str, str], current: dict[str, str]) -> list[PolicyChange]:
    """The policies whose value differs between two reads (keys missing on a side are skipped)."""
    return [
        PolicyChange(key=key, before=previous[key], after=current[key])
        for key in POLICY_KEYS
        if key in previous and key in current and previous[key] != current[key]
    ]


def _read_token(token_file: str) -> str:
    try:
        with open(token_file, encoding="utf-8") as handle:
            token = handle.read(64 * 1024).strip()
    except OSError as error:
        raise KubeletConfigzError(
            f"token file {token_file} unreadable: {error.strerror or error}"
        ) from None
    if not token:
        raise KubeletConfigzError(f"token file {token_file} is empty")
    return token


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as error:
        raise KubeletConfigzError(f"CA file {ca_file} unusable: {error}") from None


def _fetch_url(
    url: str, token_file: str | None, ca_file: str | None, timeout_s: float
) -> bytes:
    headers = {"Accept": "application/json"}
    if token_file:
        headers["Authorization"] = f"Bearer {_read_token(token_file)}"
    request = urllib.request.Request(url, headers=headers, method="GET")
    context = _ssl_context(ca_file) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise KubeletConfigzError(f"kubelet answered HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise KubeletConfigzError(f"kubelet unreachable: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise KubeletConfigzError(f"kubelet unreachable: {error}") from None
    if len(body) > MAX_BODY_BYTES:
        raise KubeletConfigzError(f"configz answer larger than {MAX_BODY_BYTES} bytes")
    return body


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            body = handle.read(MAX_BODY_BYTES + 1)
    except OSError as error:
        raise KubeletConfigzError(f"{path} unreadable: {error.strerror or error}") from None
    if len(body) > MAX_BODY_BYTES:
        raise KubeletConfigzError(f"{path} larger than {MAX_BODY_BYTES} bytes")
    return body


def read_kubelet_policies(
    source: str,
    *,
    token_file: str | None = None,
    ca_file: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> KubeletPolicies:
    """The node's cpu/memory/topology manager policies from configz at `source` (an http(s) URL,
    a file:// URL or a path). Never raises: failures come back available=False with a reason."""
    source = (source or "").strip()
    if not source:
        return KubeletPolicies(
            available=False, source="", reason="not available: NUMA_KUBELET_CONFIGZ_URL not set"
        )
    try:
        if source.startswith(("http://", "https://")):
            body = _fetch_url(source, token_file, ca_file, timeout_s)
        else:
            body = _read_file(source.removeprefix("file://"))
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise KubeletConfigzError(f"configz is not JSON: {error}") from None
        policies, defaulted, details = policies_from_configz(document)
    except KubeletConfigzError as error:
        return KubeletPolicies(available=False, source=source, reason=f"not available: {error}")
    except Exception as error:  # noqa: BLE001 - the contract is "never raises"
        return KubeletPolicies(
            available=False, source=source, reason=f"not available: unexpected {error!r}"
        )
    return KubeletPolicies(
        available=True, source=source, policies=policies, defaulted=defaulted, details=details
    )
