"""Django admin of the verifiers app, one module per part (read, write, reconcile)."""

from importlib import import_module

for _part in ("read", "write", "reconcile"):
    try:
        import_module(f"verifiers.{_part}.admin")
    except ModuleNotFoundError as error:
        if error.name != f"verifiers.{_part}.admin":
            raise
