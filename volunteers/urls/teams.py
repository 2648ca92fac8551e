"""URLs of teams."""

urlpatterns: list = []
