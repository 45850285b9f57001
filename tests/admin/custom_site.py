"""A custom AdminSite with the dashboard registered on it (used by test_admin_models)."""

from django.contrib.admin import AdminSite
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.urls import path

from cache_dashboard.admin import register


class OpsSite(AdminSite):
    site_header = "Ops console"


site = OpsSite(name="ops")
site.register(User, UserAdmin)
register(site)

urlpatterns = [path("ops/", site.urls)]
