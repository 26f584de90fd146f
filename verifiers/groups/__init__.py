"""Mismatch groups, shared by the read and the write verifier.

What a part uses: ``fingerprint`` (pure: route templates, fingerprints, titles) and
``recording.record_verdicts`` (a batch of verdicts counted per minute, grouped, sampled).
Everything after recording is this package's: the group pages (``views``), the API (``api``),
triage and reverification (``services``, ``tasks``), the admin, and ``diffview`` (pure) for the
side-by-side diff. Reverification runs each part's own check, which the part registers with
``services.register_reverifier`` (see ``VerifiersConfig.ready``): nothing here imports a part's
services, only the pure comparison engine (``read.compare``) whose differences it groups.
"""
