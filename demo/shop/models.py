"""The seeds' e-commerce models ("Electro Isla"): products and orders."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models


class Producto(models.Model):
    """A product of the catalogue."""

    nombre = models.CharField(max_length=120)
    precio = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)
    activo = models.BooleanField(default=True)
    creado = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["nombre"]
        verbose_name = "producto"
        verbose_name_plural = "productos"

    def __str__(self) -> str:
        return self.nombre


class Pedido(models.Model):
    """An order of one product by one customer."""

    class MetodoPago(models.TextChoices):
        TARJETA = "tarjeta", "Tarjeta"
        YAPE = "yape", "Yape"
        PLIN = "plin", "Plin"
        TRANSFERENCIA = "transferencia", "Transferencia"
        EFECTIVO = "efectivo", "Contra entrega"

    class Estado(models.TextChoices):
        PENDIENTE = "pendiente", "Pendiente"
        PAGADO = "pagado", "Pagado"
        ENVIADO = "enviado", "Enviado"
        CANCELADO = "cancelado", "Cancelado"

    cliente = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="pedidos"
    )
    producto = models.ForeignKey(Producto, on_delete=models.PROTECT, related_name="pedidos")
    cantidad = models.PositiveIntegerField(default=1)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    metodo_pago = models.CharField(max_length=20, choices=MetodoPago.choices, default=MetodoPago.TARJETA)
    estado = models.CharField(max_length=20, choices=Estado.choices, default=Estado.PAGADO)
    creado = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-creado"]
        verbose_name = "pedido"
        verbose_name_plural = "pedidos"

    def __str__(self) -> str:
        return f"Pedido {self.pk} - {self.producto}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self.total:
            self.total = self.producto.precio * self.cantidad
        super().save(*args, **kwargs)  # type: ignore[arg-type]
