"""The pure comparison behind apply_config's plan (no Django, no database)."""

from __future__ import annotations

from console.configuration.plan import Action, Change, compare_entry, leftovers, summary


def test_an_entry_not_yet_there_is_created():
    assert compare_entry("systems", "candidate", None, {"name": "candidate"}).action == Action.CREATE


def test_an_equal_entry_is_unchanged():
    entry = {"name": "candidate", "timeout_ms": 2000, "headers_to_add": {"X": "1"}}
    assert compare_entry("systems", "candidate", dict(entry), entry).action == Action.UNCHANGED


def test_an_update_names_exactly_the_changed_fields():
    current = {"name": "c", "timeout_ms": 2000, "enabled": True, "rules": {"a": 1}}
    desired = {"name": "c", "timeout_ms": 500, "enabled": True, "rules": {"a": 2}}
    change = compare_entry("systems", "c", current, desired)
    assert change.action == Action.UPDATE and change.fields == ("rules", "timeout_ms")
    assert change.describe() == "update      systems: c (rules, timeout_ms)"


def test_rows_not_in_the_file_are_kept_unless_pruned():
    assert [c.action for c in leftovers("routes", ["GET /b", "GET /a"], prune=False)] == [Action.NOT_IN_FILE] * 2
    pruned = leftovers("routes", ["GET /b", "GET /a"], prune=True)
    assert [(c.label, c.action) for c in pruned] == [("GET /a", Action.DELETE), ("GET /b", Action.DELETE)]


def test_the_summary_counts_each_action_in_a_fixed_order():
    changes = [Change("s", "a", Action.UNCHANGED), Change("s", "b", Action.CREATE), Change("s", "c", Action.CREATE),
               Change("s", "d", Action.DELETE)]
    assert summary(changes) == "2 create, 1 delete, 1 unchanged"
    assert summary([]) == "nothing"
