from django.contrib import admin, messages

from console.models import ApiToken, Migration, MigrationRole


@admin.register(Migration)
class MigrationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "migration", "created_at", "expires_at", "last_used_at", "revoked")
    list_filter = ("revoked", "migration")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    fields = ("name", "user", "migration", "expires_at", "revoked", "prefix", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, raw = ApiToken.issue(user=obj.user, name=obj.name, valid_days=None, migration=obj.migration)
        if obj.expires_at:
            ApiToken.objects.filter(pk=token.pk).update(expires_at=obj.expires_at)
        obj.pk = token.pk
        messages.warning(request, f"Token for {obj.name}: {raw}  (copy it now: it is not shown again)")


@admin.register(MigrationRole)
class MigrationRoleAdmin(admin.ModelAdmin):
    list_display = ("user", "migration", "role")
    list_filter = ("role", "migration")
    search_fields = ("user__username", "migration__name", "migration__slug")
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # A migration's admin configures it in this admin site, which lets in staff only.
        if obj.role == MigrationRole.Role.ADMIN and not obj.user.is_staff:
            obj.user.is_staff = True
            obj.user.save(update_fields=["is_staff"])
            messages.info(request, f"{obj.user} now has staff status, to enter the admin site.")
