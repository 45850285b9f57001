"""URLs of the shop API (each cached endpoint names its namespace in shop.stats)."""

from django.urls import path

from shop import views

app_name = "shop"

urlpatterns = [
    path("estadisticas/ventas/", views.estadisticas_ventas, name="estadisticas_ventas"),
    path("estadisticas/usuarios/", views.estadisticas_usuarios, name="estadisticas_usuarios"),
    path("estadisticas/productos-vendidos/", views.productos_vendidos, name="productos_vendidos"),
    path("estadisticas/metodos-pago/", views.metodos_pago, name="metodos_pago"),
    path("usuarios/<int:user_id>/perfil/", views.perfil_usuario, name="perfil_usuario"),
    path("productos/", views.lista_productos, name="lista_productos"),
    path("demo/escritura/", views.simulate_write, name="simulate_write"),
]
