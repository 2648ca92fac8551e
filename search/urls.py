"""The search page and its JSON twin."""

from django.urls import path

from search.api import SearchAPIView
from search.views import search_view

urlpatterns = [
    path("search/", search_view, name="search"),
    path("api/search/", SearchAPIView.as_view(), name="api-search"),
]
