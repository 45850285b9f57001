"""Admin pages of the shop models (edits here invalidate the statistics through the rules)."""

from django.contrib import admin

from shop.models import Pedido, Producto


@admin.register(Producto)
class ProductoAdmin(admin.ModelAdmin):
    list_display = ("nombre", "precio", "stock", "activo")
    list_filter = ("activo",)
    search_fields = ("nombre",)


@admin.register(Pedido)
class PedidoAdmin(admin.ModelAdmin):
    list_display = ("id", "producto", "cliente", "cantidad", "total", "metodo_pago", "estado", "creado")
    list_filter = ("estado", "metodo_pago")
    list_select_related = ("producto", "cliente")
    raw_id_fields = ("producto", "cliente")
