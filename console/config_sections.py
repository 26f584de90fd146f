"""The console's own configuration section: the migrations, which every owned section names."""

from __future__ import annotations

from console.configuration.sections import Section, register_section
from console.models import Migration


def register() -> None:
    # First of all sections: systems, routes, databases, sources and alert rules reference it.
    register_section(Section(name="migrations", model=Migration, key=("slug",), fields=("name", "description"),
                             state_fields=("created_at",)))
