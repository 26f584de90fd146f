"""Prepare the demo: roles, an admin and an operator login, and an API token for the demo world.

Prints the token on the last line (the launcher hands it to the traffic generator).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.models import ApiToken
from console.roles import ADMINS, MACHINE_CLIENTS, OPERATORS, ensure_roles


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--admin", default="admin:demo-admin-password", help="user:password")
        parser.add_argument("--operator", default="operator:demo-operator-password", help="user:password")

    def handle(self, *args, admin, operator, **options):
        groups = ensure_roles()
        users = get_user_model().objects
        admin_name, admin_password = admin.split(":", 1)
        boss, _ = users.get_or_create(username=admin_name, defaults={"email": "admin@example.bank"})
        boss.is_staff = boss.is_superuser = True
        boss.set_password(admin_password)
        boss.save()
        boss.groups.add(groups[ADMINS])
        operator_name, operator_password = operator.split(":", 1)
        op, _ = users.get_or_create(username=operator_name, defaults={"email": "operator@example.bank"})
        op.set_password(operator_password)
        op.save()
        op.groups.add(groups[OPERATORS])
        robot, _ = users.get_or_create(username="demo-world", defaults={"is_active": True})
        robot.groups.add(groups[MACHINE_CLIENTS])
        ApiToken.objects.filter(user=robot, name="demo world").update(revoked=True)
        _, raw = ApiToken.issue(user=robot, name="demo world", valid_days=30)
        for hook in self._demo_hooks():
            hook(self)
        self.stdout.write(raw)

    def _demo_hooks(self):
        """Each capability adds its demo configuration here (systems, ledger source, hosts)."""
        from console.demo.setup import demo_setup_steps

        return demo_setup_steps()
