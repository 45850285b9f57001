"""URLs of the demo: the admin (with the Cache section) and the JSON APIs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/", include("ruc.urls")),
    path("api/", include("shop.urls")),
]
