"""Side-by-side JSON: the same text as json.dumps(indent=2), highlights on exact paths."""

import json

from verifiers.groups.diffview import Highlights, highlights_for, pretty_lines

DOC = {"accountId": 861, "items": [{"entryId": 1, "memo": ""}, {"entryId": 2, "memo": "급여"}],
       "weird key": {"a b": None}, "empty": {}, "none": []}
NOTHING = Highlights(frozenset(), frozenset())


def marked(lines):
    return [line.text.strip() for line in lines if line.highlighted]


def test_text_is_exactly_what_json_dumps_prints():
    assert "\n".join(line.text for line in pretty_lines(DOC, NOTHING)) == json.dumps(DOC, indent=2, ensure_ascii=False)
    assert [line.text for line in pretty_lines(5, NOTHING)] == ["5"]


def test_only_the_differing_member_is_highlighted_not_every_line_with_that_key():
    lines = pretty_lines(DOC, highlights_for([{"path": "$.items[0].memo", "kind": "missing"}], "legacy"))
    assert marked(lines) == ['"memo": ""']


def test_a_differing_object_is_highlighted_whole():
    lines = pretty_lines(DOC, highlights_for([{"path": "$.items[1]", "kind": "changed"}], "candidate"))
    assert marked(lines) == ["{", '"entryId": 2,', '"memo": "급여"', "}"]


def test_order_differences_mark_the_array_opening_line_only():
    lines = pretty_lines(DOC, highlights_for([{"path": "$.items", "kind": "order_only"}], "candidate"))
    assert marked(lines) == ['"items": [']


def test_each_side_shows_only_its_kinds():
    differences = [{"path": "$.accountId", "kind": "missing"}, {"path": "$.empty", "kind": "extra"}]
    assert marked(pretty_lines(DOC, highlights_for(differences, "legacy"))) == ['"accountId": 861,']
    assert marked(pretty_lines(DOC, highlights_for(differences, "candidate"))) == ['"empty": {},']


def test_keys_that_are_not_identifiers_use_bracket_paths():
    lines = pretty_lines(DOC, highlights_for([{"path": "$['weird key']['a b']", "kind": "changed"}], "legacy"))
    assert marked(lines) == ['"a b": null']
