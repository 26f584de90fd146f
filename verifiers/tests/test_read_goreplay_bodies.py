"""Issue 11 item 5: GoReplay records are decoded as HTTP says (chunked, gzip, deflate); other bytes kept."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import orjson
import pytest
from django.core.management import call_command

from verifiers.models import OutcomeCount
from verifiers.read.ingest import validate_sample
from verifiers.read.samplefiles import GOREPLAY_SEPARATOR, SampleFileError, read_sample_file
from verifiers.tests.http_answers import AnswerServer, RawAnswer
from verifiers.tests.read_support import configure_systems, read_worker

DOCUMENT = {"memo": "line one\r\nline two\rthree\n", "amount": "10.00", "items": list(range(50))}
BODY = orjson.dumps(DOCUMENT)
TEXT_BODY = b"plain\r\ntext\r\n\r\nwith a blank line\r\n"


def _chunked(body: bytes, size: int = 100) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\nX-Trailer: 1\r\n\r\n"


def _record(kind: str, record_id: str, head: str, body: bytes) -> bytes:
    return f"{kind} {record_id} 1714521600000000000 2500000\n".encode() + head.encode() + b"\r\n\r\n" + body


def gor_file(path: Path, responses: list[tuple[str, bytes]]) -> Path:
    records = []
    for index, (headers, body) in enumerate(responses):
        records.append(_record("1", f"r{index}", f"GET /accounts/{index + 1}/balance HTTP/1.1\r\nHost: x", b""))
        records.append(_record("2", f"r{index}", f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{headers}",
                               body))
    path.write_bytes(GOREPLAY_SEPARATOR.join(records) + GOREPLAY_SEPARATOR)
    return path


WIRE_FORMS = {
    "plain": (f"Content-Length: {len(BODY)}", BODY),
    "chunked": ("Transfer-Encoding: chunked", _chunked(BODY)),
    "gzip": ("Content-Encoding: gzip", gzip.compress(BODY)),
    "deflate": ("Content-Encoding: deflate", zlib.compress(BODY)),
    "raw deflate": ("Content-Encoding: deflate", zlib.compress(BODY)[2:-4]),
    "gzip, chunked": ("Content-Encoding: gzip\r\nTransfer-Encoding: chunked", _chunked(gzip.compress(BODY))),
}


@pytest.mark.parametrize("form", sorted(WIRE_FORMS))
def test_a_body_is_decoded_as_its_headers_say_and_keeps_its_crlf(tmp_path, form):
    headers, wire = WIRE_FORMS[form]
    [record] = list(read_sample_file(gor_file(tmp_path / "a.gor", [(headers, wire)])))
    sample = validate_sample(record)
    assert sample["legacy"]["body"].encode() == BODY
    assert orjson.loads(sample["legacy"]["body"])["memo"] == "line one\r\nline two\rthree\n"
    assert not {"content-encoding", "transfer-encoding"} & {name.lower() for name in sample["legacy"]["headers"]}


def test_a_text_body_keeps_every_byte(tmp_path):
    [record] = list(read_sample_file(gor_file(tmp_path / "t.gor", [(f"Content-Length: {len(TEXT_BODY)}",
                                                                   TEXT_BODY)])))
    assert record["legacy"]["body"] == TEXT_BODY.decode()


def test_a_broken_chunked_body_is_a_clear_record_error(tmp_path):
    items = list(read_sample_file(gor_file(tmp_path / "b.gor", [("Transfer-Encoding: chunked", b"zz\r\nnope")])))
    assert any(isinstance(item, SampleFileError) and "not decodable" in str(item) for item in items)


def test_replayed_gor_records_match_the_same_answer_end_to_end(db, redis_client, tmp_path):
    server = AnswerServer({f"/accounts/{index + 1}/balance": RawAnswer(body=BODY, encoding="gzip", chunked=True)
                           for index in range(len(WIRE_FORMS))}).start()
    try:
        configure_systems(server.url)
        call_command("replay", str(gor_file(tmp_path / "e.gor", list(WIRE_FORMS.values()))))
        read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    finally:
        server.stop()
    counts = OutcomeCount.objects.get()
    assert (counts.matched, counts.mismatched, counts.errored) == (len(WIRE_FORMS), 0, 0)
