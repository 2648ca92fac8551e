from django.contrib.auth import views as auth_views
from django.urls import path

from marketplace import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("workbench/", views.workbench_view, name="workbench"),
    path("organisations/", views.organisation_list_view, name="organisation-list"),
    path("organisations/new/", views.organisation_create_view, name="organisation-create"),
    path("organisations/<int:pk>/", views.organisation_detail_view, name="organisation-detail"),
    path(
        "organisations/<int:pk>/verify/",
        views.organisation_verify_view,
        name="organisation-verify",
    ),
]
