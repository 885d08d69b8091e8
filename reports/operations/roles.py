"""Who may see and who may act on the Operations pages: Django permissions, granted through two
groups made at migrate time. Being staff is not enough; a superuser has both.

- "Operators (read-only)": every page, every user's jobs, nothing that changes anything.
- "Operators": the same, and the controls (queues, worker pools, bulk actions, run now).
"""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404

from reports.engine.access import login_required

VIEW = "reports.view_operations"
ACT = "reports.operate"
GROUPS = {
    "Operators (read-only)": ["view_operations"],
    "Operators": ["view_operations", "operate"],
}


def can_view(user) -> bool:
    return user.is_authenticated and user.has_perm(VIEW)


def can_act(user) -> bool:
    return user.is_authenticated and user.has_perm(ACT)


def viewers_only(view):
    """Anyone who may not see Operations gets the same 404 as a page that does not exist."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not can_view(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


def actors_only(view):
    """An action: 404 to those who may not see Operations, 403 to read-only operators."""

    @wraps(view)
    @viewers_only
    def wrapper(request, *args, **kwargs):
        if not can_act(request.user):
            raise PermissionDenied("Your role can look, not act: ask for the Operators group.")
        return view(request, *args, **kwargs)

    return wrapper


def ensure_groups(**kwargs) -> None:
    """post_migrate: the two groups exist with exactly their permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(Permission.objects.filter(content_type__app_label="reports", codename__in=codenames))
