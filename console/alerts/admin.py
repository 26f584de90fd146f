"""Admin of alert recipients, rules and the sent-alert log; the admin site's titles."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from console.admin_scope import MigrationScopedAdmin
from console.alerts import services
from console.alerts.models import KIND_CHOICES, AlertRecipient, AlertRule, SentAlert

admin.site.site_header = "Migration health console"
admin.site.site_title = "Migration health console"
admin.site.index_title = "Configuration"


class AlertRecipientForm(forms.ModelForm):
    kinds = forms.MultipleChoiceField(choices=KIND_CHOICES, widget=forms.CheckboxSelectMultiple, required=False,
                                      help_text="Alert kinds this address receives.")

    class Meta:
        model = AlertRecipient
        fields = ["migration", "email", "name", "kinds", "active"]


@admin.register(AlertRecipient)
class AlertRecipientAdmin(MigrationScopedAdmin):
    form = AlertRecipientForm
    list_display = ["email", "name", "subscriptions", "active"]
    list_filter = ["active"]
    search_fields = ["email", "name"]
    actions = ["send_test_alert", "deactivate"]

    @admin.display(description="Subscribed to")
    def subscriptions(self, recipient: AlertRecipient) -> str:
        labels = dict(KIND_CHOICES)
        return ", ".join(labels.get(kind, kind) for kind in recipient.kinds) or "nothing"

    @admin.action(description="Send a test alert to the selected addresses")
    def send_test_alert(self, request, queryset) -> None:
        sent = sum(services.send_test_alert(to=recipient.email) for recipient in queryset)
        self.message_user(request, f"Sent {sent} test alert(s).", messages.SUCCESS)

    @admin.action(description="Stop sending to the selected addresses")
    def deactivate(self, request, queryset) -> None:
        count = services.deactivate_recipients(recipient_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Deactivated {count} recipient(s).", messages.SUCCESS)


@admin.register(AlertRule)
class AlertRuleAdmin(MigrationScopedAdmin):
    list_display = ["kind", "enabled", "threshold", "window_minutes"]
    list_editable = ["enabled", "threshold", "window_minutes"]


@admin.register(SentAlert)
class SentAlertAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "kind", "digest", "subject", "events"]
    list_filter = ["kind", "digest"]
    search_fields = ["subject", "key"]
    date_hierarchy = "sent_at"
    readonly_fields = [f.name for f in SentAlert._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # a log: written by the console only

    def has_change_permission(self, request, obj=None) -> bool:
        return False
