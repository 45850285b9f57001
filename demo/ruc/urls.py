"""URLs of the RUC lookup API."""

from django.urls import path

from ruc import views

app_name = "ruc"

urlpatterns = [
    path("ruc/<str:ruc>/", views.ruc_detail, name="ruc"),
    path("nubefact/<str:ruc>/", views.nubefact_detail, name="nubefact"),
]
