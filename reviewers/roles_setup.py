from typing import Any

from django.contrib.auth.models import Group, Permission

from hybridqc.roles import ROLE_PERMISSIONS


def roles_ensure(**_: Any) -> None:
    """Create the role groups with their permissions (runs after every migrate)."""
    for name, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for dotted in perms:
            app_label, codename = dotted.split(".")
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                group.permissions.add(perm)
