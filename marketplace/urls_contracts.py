"""Purchase-of-services pages: contracts (namespace `procurement`, in `marketplace.urls`)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
