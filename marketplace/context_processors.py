"""Template context: the signed-in user's roles, for the role-aware navigation."""

from marketplace.selectors import user_scope


def roles(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"user_scope": None}
    return {"user_scope": user_scope(user=user)}
