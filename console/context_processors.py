"""Values every page template needs."""

from django.conf import settings

from console.migration_scope import UnknownMigration, migration_scope, viewable


def console(request):
    return {"console_env": settings.CONSOLE_ENV, "console_time_zone": settings.TIME_ZONE}


def migration_picker(request):
    """The navigation's migration picker: the user's migrations and the one chosen ("" = all).

    `migration_query` ("?migration=<slug>" or "") keeps the choice on every navigation link.
    The 400 page for an unknown slug renders too, with nothing chosen.
    """
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    try:
        scope = migration_scope(request)
    except UnknownMigration:
        return {"picker_migrations": viewable(request), "picked_migration": "", "migration_query": "", "migration_param": ""}
    return {"picker_migrations": scope.viewable, "picked_migration": scope.slug,
            "migration_query": scope.query, "migration_param": scope.param}
