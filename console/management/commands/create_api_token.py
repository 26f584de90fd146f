from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from console.models import ApiToken, Migration


class Command(BaseCommand):
    help = "Issue an API token for a machine client and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="user the token acts as")
        parser.add_argument("--name", required=True, help="what uses it, e.g. gateway-1")
        parser.add_argument("--days", type=int, default=365, help="validity in days (0: no expiry)")
        parser.add_argument("--migration", help="slug of the one migration the token may ingest into "
                                                "(default: any, named by the client)")

    def handle(self, *args, user, name, days, migration=None, **options):
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"--user {user!r}: no such user") from None
        limited_to = None
        if migration:
            limited_to = Migration.objects.filter(slug=migration).first()
            if limited_to is None:
                known = ", ".join(Migration.objects.order_by("slug").values_list("slug", flat=True)) or "none"
                raise CommandError(f"--migration {migration!r}: no such migration; known: {known}")
        _, raw = ApiToken.issue(user=owner, name=name, valid_days=days or None, migration=limited_to)
        self.stdout.write(raw)
