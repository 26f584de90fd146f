"""The JSON renderer of the ingest endpoints: orjson, the bytes DRF's compact JSON gives for their answers.

An ingest answer lists a result per item (500 per batch); DRF's renderer (the standard json
module) spent ~4 us of the write ingest's ~220 us per capture on it. Anything orjson does not
serialise (DRF's lazy strings, Decimals ...) falls back to DRF's own renderer.
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer


class IngestJSONRenderer(JSONRenderer):
    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        try:
            body = orjson.dumps(data)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)
        # As DRF does: U+2028/U+2029 escaped (legal in JSON, not in older JavaScript string literals).
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body
