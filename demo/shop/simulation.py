"""Random shop writes for the traffic generator (each one fires the invalidation rules)."""

from __future__ import annotations

import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from shop.models import Pedido, Producto

CATALOGUE = (
    ('Televisor LED 55"', "1899.00"),
    ("Refrigeradora 300 L", "2199.00"),
    ("Lavadora 12 kg", "1499.00"),
    ("Licuadora 1.5 L", "189.90"),
    ('Laptop 14"', "2799.00"),
    ("Audífonos inalámbricos", "249.00"),
    ("Microondas 25 L", "399.00"),
    ("Smartphone 128 GB", "1299.00"),
)
CUSTOMERS = ("cliente1", "cliente2", "cliente3", "cliente4", "cliente5")


def ensure_catalogue() -> None:
    """Create the demo products and customers if they are missing (idempotent)."""
    for nombre, precio in CATALOGUE:
        Producto.objects.get_or_create(nombre=nombre, defaults={"precio": Decimal(precio), "stock": 50})
    User = get_user_model()
    for username in CUSTOMERS:
        if not User.objects.filter(username=username).exists():
            User.objects.create_user(username=username, password=None)


def random_write(rng: random.Random | None = None) -> str:
    """Perform one realistic write and return what it was: ``pedido``, ``precio``,
    ``cancelacion`` or ``borrado``."""
    rng = rng or random.Random()
    productos = list(Producto.objects.filter(activo=True))
    if not productos:
        ensure_catalogue()
        productos = list(Producto.objects.filter(activo=True))
    roll = rng.random()
    with transaction.atomic():
        if roll < 0.65:
            producto = rng.choice(productos)
            cliente = get_user_model().objects.filter(username=rng.choice(CUSTOMERS)).first()
            Pedido.objects.create(
                producto=producto,
                cliente=cliente,
                cantidad=rng.randint(1, 3),
                metodo_pago=rng.choice(Pedido.MetodoPago.values),
            )
            return "pedido"
        if roll < 0.85:
            producto = rng.choice(productos)
            factor = Decimal(str(round(rng.uniform(0.9, 1.1), 2)))
            producto.precio = (producto.precio * factor).quantize(Decimal("0.01"))
            producto.save(update_fields=["precio"])
            return "precio"
        pedido = Pedido.objects.order_by("?").first()
        if pedido is None:
            return random_write(rng)
        if roll < 0.95:
            pedido.estado = Pedido.Estado.CANCELADO
            pedido.save(update_fields=["estado"])
            return "cancelacion"
        pedido.delete()
        return "borrado"
