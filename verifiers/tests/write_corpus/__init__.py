"""A DML conformance corpus for the write verifier (see cases.py)."""
