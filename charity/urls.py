"""Staff pages of funds, donations and disbursements (namespace `charity`)."""

from django.urls import path

from charity.views import disbursements, donations, funds

app_name = "charity"

urlpatterns = [
    path("funds/", funds.fund_list_view, name="fund-list"),
    path("funds/<int:pk>/", funds.fund_detail_view, name="fund-detail"),
    path("funds/<int:pk>/export.xlsx", funds.fund_ledger_export_view, name="fund-ledger-export"),
    path("funds/<int:pk>/transfer/", funds.fund_transfer_view, name="fund-transfer"),
    path("funds/<int:pk>/donations/new/", donations.donation_create_view, name="donation-create"),
    path("donations/<int:pk>/", donations.donation_detail_view, name="donation-detail"),
    path("donations/<int:pk>/refund/", donations.donation_refund_view, name="donation-refund"),
    path(
        "funds/<int:pk>/disbursements/new/",
        disbursements.disbursement_create_view,
        name="disbursement-create",
    ),
    path("disbursements/", disbursements.disbursement_list_view, name="disbursement-list"),
    path(
        "disbursements/export.xlsx",
        disbursements.disbursement_list_view,
        {"export": True},
        name="disbursement-export",
    ),
    path(
        "disbursements/<int:pk>/",
        disbursements.disbursement_detail_view,
        name="disbursement-detail",
    ),
    path(
        "disbursements/<int:pk>/approve/",
        disbursements.disbursement_approve_view,
        name="disbursement-approve",
    ),
    path(
        "disbursements/<int:pk>/reject/",
        disbursements.disbursement_reject_view,
        name="disbursement-reject",
    ),
    path(
        "needs/<int:need_id>/reserve-advance/",
        disbursements.reserve_advance_view,
        name="reserve-advance",
    ),
]
