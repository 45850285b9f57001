"""The RUC lookup app: the seeds' use case (negative cache with reasons, several providers)."""

from django.apps import AppConfig


class RucConfig(AppConfig):
    name = "ruc"
    verbose_name = "Consulta RUC"
