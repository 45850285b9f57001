"""The shop app: cached statistics, kept fresh by declarative invalidation rules."""

from __future__ import annotations

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Tienda"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The seeds wired post_save receivers by hand for each model; here each dependency is
        # declared once, and runs after the transaction commits.
        from django.contrib.auth import get_user_model

        from cache_dashboard.invalidation import invalidate_on
        from shop.models import Pedido, Producto

        invalidate_on(
            Producto,
            keys=[
                "estadisticas_ventas",
                "productos_vendidos",
                lambda producto: f"producto_{producto.pk}",
            ],
            namespaces=["lista_productos"],
        )
        invalidate_on(Pedido, keys=["estadisticas_ventas", "estadisticas_usuarios", "metodos_pago"])
        invalidate_on(get_user_model(), keys=["estadisticas_usuarios"])
