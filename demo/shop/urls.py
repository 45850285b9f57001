"""URLs of the shop API."""

from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("estadisticas/ventas/", views.estadisticas_ventas, name="estadisticas_ventas"),
    path("estadisticas/usuarios/", views.estadisticas_usuarios, name="estadisticas_usuarios"),
    path("demo/escritura/", views.simulate_write, name="simulate_write"),
]
