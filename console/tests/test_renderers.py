"""The ingest endpoints' orjson renderer answers the bytes DRF's JSON renderer would."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from console.renderers import IngestJSONRenderer

ANSWERS = [
    {"accepted": 2, "duplicates": 0, "rejected": [{"line": 3, "reason": "not valid JSON: unexpected character",
                                                   "status": 400}],
     "results": [{"line": 1, "id": "c-1", "status": "stored", "row_checks": 6, "unverifiable": [],
                  "converted": True},
                 {"line": 2, "id": "c-2", "status": "committed", "row_checks": 0,
                  "unverifiable": [{"statement": 0, "table": "계좌", "reason": "UPSERT … \"quoted\" \\ </script>"}],
                  "converted": False}]},
    {"error": "unknown verified database 'x'; known: 'ledger'", "ratio": 0.1, "big": 2**62, "none": None},
    {"detail": ErrorDetail("Posting here needs the ingest permission.", code="permission_denied")},
    [],
    {"reason": "line\u2028separator and paragraph\u2029separator"},
]


@pytest.mark.parametrize("answer", ANSWERS)
def test_the_ingest_renderer_writes_what_drf_writes(answer):
    assert IngestJSONRenderer().render(answer) == JSONRenderer().render(answer)


def test_what_orjson_cannot_write_falls_back_to_drf():
    answer = {"detail": gettext_lazy("Not found."), "amount": Decimal("10.50")}
    assert IngestJSONRenderer().render(answer) == JSONRenderer().render(answer)


def test_no_data_is_an_empty_body():
    assert IngestJSONRenderer().render(None) == b""
