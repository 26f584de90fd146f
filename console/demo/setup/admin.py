"""The demo's admin action, "Inject drift" on the demo ledger source (outside production only).

console.apps registers this admin in place of the product's ledger source admin unless
CONSOLE_ENV is production, so a production admin offers no demo action.
"""

from __future__ import annotations

import random
from decimal import Decimal

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from console.demo.fx_ledger import inject_fx_drift
from console.demo.schema import inject_drift
from console.demo.setup.reconcile import DEMO_SOURCE_NAME, FX_SOURCE_NAME
from verifiers.models import LedgerSource
from verifiers.reconcile.admin import LedgerSourceAdmin

DEMO_DRIFT_AMOUNT = Decimal("1000")


class DemoLedgerSourceAdmin(LedgerSourceAdmin):
    actions = [*LedgerSourceAdmin.actions, "inject_drift"]

    @admin.action(description="Inject drift (demo ledger only): change one account without an entry",
                  permissions=["change"])
    def inject_drift(self, request: HttpRequest, queryset: QuerySet[LedgerSource]) -> None:
        for source in queryset:
            injectors = {DEMO_SOURCE_NAME: inject_drift, FX_SOURCE_NAME: inject_fx_drift}
            if source.name not in injectors:
                self.message_user(request, f"{source}: drift can only be injected into the demo ledger "
                                  f"({DEMO_SOURCE_NAME}) or the demo fx deposits.", messages.ERROR)
                continue
            account_id = random.randint(1, 200)
            try:
                balance = injectors[source.name](source.resolved_dsn(), account_id, DEMO_DRIFT_AMOUNT)
            except Exception as exc:  # the demo module's own error names the problem
                self.message_user(request, f"{source}: {exc}", messages.ERROR)
                continue
            self.message_user(request, f"{source}: account {account_id} changed by {DEMO_DRIFT_AMOUNT} without an "
                              f"entry (balance now {balance}); the next run will show it.", messages.WARNING)


def register(site: admin.AdminSite = admin.site) -> None:
    """Swap the product's ledger source admin for the demo's (which adds the drift action)."""
    site.unregister(LedgerSource)
    site.register(LedgerSource, DemoLedgerSourceAdmin)
