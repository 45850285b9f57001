"""Simulated upstream RUC providers (APIMIGO-like and NubeFact-like): the demo's only mock.

Each provider answers after a configurable latency, with deterministic fake data (the same RUC
always gives the same company), says "unknown" for a deterministic ~20 % of well-formed RUCs,
and fails at random at a configurable rate. Settings (read on every call)::

    DEMO_UPSTREAM = {"LATENCY": 0.3, "FAILURE_RATE": 0.05, "NOT_FOUND_PERCENT": 20}
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {"LATENCY": 0.3, "FAILURE_RATE": 0.05, "NOT_FOUND_PERCENT": 20}

#: Real, well-known RUCs that always exist (useful for trying the API by hand).
KNOWN_COMPANIES: dict[str, str] = {
    "20100038146": "CONTINENTAL S.A.C.",
    "20131312955": "SUPERINTENDENCIA NACIONAL DE ADUANAS Y DE ADMINISTRACION TRIBUTARIA - SUNAT",
}

_FIRST = ("INVERSIONES", "COMERCIAL", "CORPORACION", "DISTRIBUIDORA", "SERVICIOS", "INDUSTRIAS", "GRUPO")
_SECOND = ("ANDINA", "DEL PACIFICO", "SAN MARTIN", "LOS INCAS", "MISTI", "AMAZONICA", "NORTE", "SOL")
_FORM = ("S.A.C.", "S.A.", "E.I.R.L.", "S.R.L.")
_SURNAMES = ("QUISPE", "MAMANI", "FLORES", "RAMOS", "HUAMAN", "CHAVEZ", "TORRES", "ROJAS", "VARGAS")
_NAMES = ("JUAN", "MARIA", "ROSA", "LUIS", "CARMEN", "JOSE", "ANA", "PEDRO")
_PLACES = (
    ("150101", "LIMA", "LIMA", "LIMA"),
    ("150122", "LIMA", "LIMA", "MIRAFLORES"),
    ("040101", "AREQUIPA", "AREQUIPA", "AREQUIPA"),
    ("080101", "CUSCO", "CUSCO", "CUSCO"),
    ("130101", "LA LIBERTAD", "TRUJILLO", "TRUJILLO"),
    ("200101", "PIURA", "PIURA", "PIURA"),
)


class UpstreamError(Exception):
    """The provider failed (timeout, 5xx): the answer is unknown, try again later."""


class RucNotFound(Exception):
    """The provider answered that the RUC is not registered with SUNAT."""


def upstream_settings() -> dict[str, Any]:
    """``DEMO_UPSTREAM`` merged over :data:`DEFAULTS`."""
    return {**DEFAULTS, **getattr(settings, "DEMO_UPSTREAM", {})}


def _digest(ruc: str) -> bytes:
    return hashlib.sha256(ruc.encode()).digest()


def exists(ruc: str) -> bool:
    """Whether the simulated SUNAT registry knows ``ruc`` (deterministic)."""
    if ruc in KNOWN_COMPANIES:
        return True
    return _digest(ruc)[0] * 100 // 256 >= int(upstream_settings()["NOT_FOUND_PERCENT"])


def _company(ruc: str) -> dict[str, Any]:
    pick = random.Random(_digest(ruc))  # deterministic per RUC
    known = ruc in KNOWN_COMPANIES
    if ruc in KNOWN_COMPANIES:
        name = KNOWN_COMPANIES[ruc]
    elif ruc.startswith("10"):
        name = f"{pick.choice(_SURNAMES)} {pick.choice(_SURNAMES)} {pick.choice(_NAMES)}"
    else:
        name = f"{pick.choice(_FIRST)} {pick.choice(_SECOND)} {pick.choice(_FORM)}"
    ubigeo, departamento, provincia, distrito = pick.choice(_PLACES)
    return {
        "ruc": ruc,
        "nombre_o_razon_social": name,
        "estado_del_contribuyente": "ACTIVO" if known or pick.random() < 0.9 else "BAJA DE OFICIO",
        "condicion_de_domicilio": "HABIDO" if known or pick.random() < 0.9 else "NO HABIDO",
        "ubigeo": ubigeo,
        "direccion": f"AV. {pick.choice(_SECOND)} NRO. {pick.randint(100, 2999)}",
        "departamento": departamento,
        "provincia": provincia,
        "distrito": distrito,
    }


@dataclass
class SimulatedProvider:
    """A fake upstream RUC service. ``lookup`` sleeps, then returns data or raises."""

    name: str
    label: str

    def lookup(self, ruc: str) -> dict[str, Any]:
        """Return the provider's data for ``ruc``.

        :raises UpstreamError: at random, with probability ``FAILURE_RATE``.
        :raises RucNotFound: when the simulated registry does not know ``ruc``.
        """
        conf = upstream_settings()
        latency = float(conf["LATENCY"])
        if latency > 0:
            time.sleep(latency * random.uniform(0.7, 1.3))
        if random.random() < float(conf["FAILURE_RATE"]):
            raise UpstreamError(f"{self.label} no respondió a tiempo (fallo simulado)")
        if not exists(ruc):
            raise RucNotFound(f"{self.label}: el RUC {ruc} no existe en SUNAT")
        return self.shape(_company(ruc))

    def shape(self, company: dict[str, Any]) -> dict[str, Any]:
        """Provider-specific response body (APIMIGO returns the SUNAT record as is)."""
        return {**company, "proveedor": self.label}


class NubefactProvider(SimulatedProvider):
    """A second provider with its own response shape (electronic-invoicing data)."""

    def shape(self, company: dict[str, Any]) -> dict[str, Any]:
        pick = random.Random(_digest("nubefact:" + company["ruc"]))
        return {
            "numero_documento": company["ruc"],
            "razon_social": company["nombre_o_razon_social"],
            "estado": company["estado_del_contribuyente"],
            "emisor_electronico": pick.random() < 0.7,
            "sistema_emision": pick.choice(("OSE", "SEE-SOL", "SEE-DEL CONTRIBUYENTE")),
            "proveedor": self.label,
        }


PROVIDERS: dict[str, SimulatedProvider] = {
    "ruc": SimulatedProvider(name="apimigo", label="APIMIGO (simulado)"),
    "nubefact": NubefactProvider(name="nubefact", label="NubeFact (simulado)"),
}


def provider_for(namespace: str) -> SimulatedProvider:
    """The provider whose answers are cached in ``namespace`` (``"ruc"`` or ``"nubefact"``)."""
    return PROVIDERS[namespace]
