"""Purchase-of-services pages: tenders and sealed bids (namespace `procurement`, in
`marketplace.urls`)."""

from django.urls import path

from marketplace.views import tenders as views

urlpatterns = [
    # Civil affairs (auditors read).
    path("tenders/", views.tender_list_view, name="tender-list"),
    path("tenders/export.xlsx", views.tender_list_view, {"export": True}, name="tender-export"),
    path("tenders/new/", views.tender_create_view, name="tender-create"),
    path("tenders/<int:pk>/manage/", views.tender_manage_view, name="tender-manage"),
    path("tenders/<int:pk>/edit/", views.tender_update_view, name="tender-update"),
    path("tenders/<int:pk>/lots/", views.lot_add_view, name="lot-add"),
    path(
        "tenders/<int:pk>/lots/<int:lot_id>/remove/",
        views.lot_remove_view,
        name="lot-remove",
    ),
    path("tenders/<int:pk>/criteria/", views.criterion_add_view, name="criterion-add"),
    path(
        "tenders/<int:pk>/criteria/<int:criterion_id>/remove/",
        views.criterion_remove_view,
        name="criterion-remove",
    ),
    path("tenders/<int:pk>/publish/", views.tender_publish_view, name="tender-publish"),
    path("tenders/<int:pk>/cancel/", views.tender_cancel_view, name="tender-cancel"),
    path("tenders/<int:pk>/open/", views.tender_open_view, name="tender-open"),
    path(
        "tenders/<int:pk>/questions/<int:question_id>/answer/",
        views.question_answer_view,
        name="question-answer",
    ),
    # Agency staff.
    path("open/", views.tender_open_list_view, name="tender-open-list"),
    path("open/<int:pk>/", views.tender_detail_agency_view, name="tender-detail-agency"),
    path("open/<int:pk>/questions/", views.question_ask_view, name="question-ask"),
    path("lots/<int:lot_id>/bid/", views.bid_create_view, name="bid-create"),
    path("bids/", views.bid_list_mine_view, name="bid-list-mine"),
    path("bids/<int:pk>/", views.bid_update_view, name="bid-update"),
    path("bids/<int:pk>/withdraw/", views.bid_withdraw_view, name="bid-withdraw"),
    path("bids/<int:pk>/plan/", views.bid_plan_view, name="bid-plan"),
]
