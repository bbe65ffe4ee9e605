from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.report_list, name="report_list"),
    path("new/", views.report_new, name="report_new"),
    path("result/", views.report_result, name="report_result"),
    path("result/<str:fmt>/", views.report_download, name="report_download"),
    path("save/", views.report_save, name="report_save"),
    path("deidentified/", views.deidentified_export, name="deidentified_export"),
    path("saved/<int:pk>/", views.saved_report_detail, name="saved_report_detail"),
    path("saved/<int:pk>/run/", views.saved_report_run, name="saved_report_run"),
    path("runs/<int:pk>/", views.report_run_detail, name="report_run_detail"),
    path(
        "runs/<int:pk>/<str:fmt>/",
        views.report_run_download,
        name="report_run_download",
    ),
]
