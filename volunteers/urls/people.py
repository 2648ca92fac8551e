"""URLs of people."""

urlpatterns: list = []
