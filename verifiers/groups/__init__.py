"""Mismatch groups, shared by the read and the write verifier.

A part hands its verdicts to ``recording.record_verdicts`` (fingerprints from ``fingerprint``);
``diffview`` lays out a group's samples side by side.
"""
