"""Public pages the site serves beside Wagtail's page tree: fund disclosure (公示)."""

from django.urls import path

from cms import views

urlpatterns = [
    path("disclosure/", views.disclosure_index_view, name="disclosure-index"),
    path("disclosure/funds/<slug:code>/", views.disclosure_fund_view, name="disclosure-fund"),
    path(
        "disclosure/funds/<slug:code>/export.xlsx",
        views.disclosure_fund_export_view,
        name="disclosure-fund-export",
    ),
    path(
        "disclosure/projects/<int:page_id>/",
        views.disclosure_project_view,
        name="disclosure-project",
    ),
    path(
        "disclosure/projects/<int:page_id>/export.xlsx",
        views.disclosure_project_export_view,
        name="disclosure-project-export",
    ),
]
