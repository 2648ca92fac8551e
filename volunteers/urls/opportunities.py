"""URLs of opportunities."""

urlpatterns: list = []
