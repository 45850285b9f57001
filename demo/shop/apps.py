"""The shop app: cached data in one namespace per data type, kept fresh by declarative rules."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def customer_pk(pedido: Any) -> str | None:
    """The ``perfil_usuario`` key an order changes: its customer's pk (the dashboard shows the name)."""
    return str(pedido.cliente_id) if pedido.cliente_id else None


def user_pk(user: Any) -> str:
    """The ``perfil_usuario`` key of a user: its pk."""
    return str(user.pk)


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "Tienda"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The seeds wired post_save receivers by hand for each model and deleted plain keys; here
        # each dependency is declared once, targets the namespaces the data lives in (shop.stats),
        # and runs after the transaction commits.
        from django.contrib.auth import get_user_model

        from cache_dashboard.invalidation import invalidate_on
        from shop.models import Pedido, Producto

        invalidate_on(Producto, namespaces=["estadisticas_ventas", "productos_vendidos", "lista_productos"])
        invalidate_on(
            Pedido,
            namespaces=["estadisticas_ventas", "estadisticas_usuarios", "productos_vendidos", "metodos_pago"],
            keys=[customer_pk],
            key_namespace="perfil_usuario",
        )
        invalidate_on(
            get_user_model(), namespaces=["estadisticas_usuarios"], keys=[user_pk], key_namespace="perfil_usuario"
        )
