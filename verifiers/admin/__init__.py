"""Django admin of the verifiers app, one module per part (read, write, reconcile, groups)."""

from verifiers.groups import admin as groups_admin  # noqa: F401 - registers its model admins
from verifiers.read import admin as read_admin  # noqa: F401 - registers its model admins
from verifiers.reconcile import admin as reconcile_admin  # noqa: F401
from verifiers.write import admin as write_admin  # noqa: F401
