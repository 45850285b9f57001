"""Layout of every dashboard page at 1280 and 375 px, light and dark, with long, realistic data.

Nothing may stick out of its box: the test lists every element wider than its own box or reaching
past its parent's content box. The one exception is a table wrapper that scrolls sideways *and*
shows it (a fade at the edge that hides columns). It also checks what the issue found by eye: card
rows without holes, headings that keep the case of names, LOCATION breaking between addresses, charts
tall enough to read on a phone, buttons on one line lined up, and Chart.js only where a chart is drawn.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARD = "/admin/cache_dashboard/cachedashboard/"
CHART_JS = "chart.umd.min.js"
ALIAS = "sesiones_y_consultas_sunat_replicadas"  # django_redis, on a primary and its replica
DOWN = "django_redis_caido"  # django_redis on a port nobody listens on

LONG_NS = "comprobantes_electronicos_pendientes_envio_sunat_por_contribuyente"  # 66 characters
NAMESPACES = ["ruc", "estadisticas_ventas", "perfil_usuario", "PadronReducido_SUNAT", "migo", "nubefact",
              "tipo_cambio_diario_banco_central_de_reserva", LONG_NS]
REASONS = ["FORMATO_INVALIDO", "NO_EXISTE_SUNAT", "ERROR_API", "CONTRIBUYENTE_DADO_DE_BAJA_DE_OFICIO",
           "TIMEOUT_CONSULTA_PADRON_REDUCIDO_SUNAT"]
# 60+ characters without a space, as real keys are: they may only break where the table allows.
LONG_KEY = "ruc:20100047218:comprobante:F001-00012345:consulta_estado_cdr_sunat_v2:O0O0"

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 800}}
THEMES = ("light", "dark")

# Every element inside the admin's <main> (and the page itself) that is wider than its own box, or
# that reaches past its parent's content box. A wrapper that scrolls sideways is fine when it is a
# .cd-table-wrap showing the fade cue (see dashboard.css); any other scroller, or one without the
# cue, is reported too.
OVERFLOWS = """() => {
  const px = (v) => parseFloat(v) || 0;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) { s += "#" + el.id; }
    for (const c of el.classList) { s += "." + c; }
    for (const a of ["data-cd-bind", "data-cd-ns", "data-cd-ttl", "data-cd-col"]) {
      if (el.hasAttribute(a)) { s += `[${a}="${el.getAttribute(a).slice(0, 20)}"]`; }
    }
    return s;
  };
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) { parts.unshift(name(e)); }
    return parts.join(" > ");
  };
  const skipped = (el) => {
    if (el.closest(".visually-hidden, script, style, template, datalist")) { return true; }
    const cs = getComputedStyle(el);
    if (cs.display === "none" || cs.visibility === "hidden" || cs.display === "contents") { return true; }
    const r = el.getBoundingClientRect();
    return r.width <= 1 && r.height <= 1;
  };
  const scrolls = (cs) => cs.overflowX === "auto" || cs.overflowX === "scroll";
  const cued = (el) => {
    if (!el.matches(".cd-table-wrap")) { return false; }
    const cs = getComputedStyle(el);
    const mask = cs.maskImage || cs.webkitMaskImage || "none";
    return mask !== "none" && px(cs.getPropertyValue("--cd-fade-end")) > 0;
  };
  // The content box of a block, less a classic scrollbar.
  const contentBox = (el) => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    const scrollbar = el.offsetWidth - el.clientWidth - px(cs.borderLeftWidth) - px(cs.borderRightWidth);
    return { left: r.left + px(cs.borderLeftWidth) + px(cs.paddingLeft),
             right: r.right - px(cs.borderRightWidth) - px(cs.paddingRight) - Math.max(0, scrollbar),
             width: r.width };
  };
  const blockParent = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const d = getComputedStyle(p).display;
      if (!d.startsWith("inline") && d !== "contents") { return p; }
    }
    return null;
  };
  const out = [];
  const root = document.querySelector("main") || document.body;
  const html = document.documentElement;
  if (html.scrollWidth > html.clientWidth) {
    out.push(`the page scrolls sideways: ${html.scrollWidth} px in a ${html.clientWidth} px window`);
  }
  for (const el of root.querySelectorAll("*")) {
    if (skipped(el)) { continue; }
    const cs = getComputedStyle(el);
    const inline = cs.display.startsWith("inline") && cs.display !== "inline-block" && cs.display !== "inline-flex"
      && cs.display !== "inline-grid";
    if (!inline && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      if (scrolls(cs) && cued(el)) { /* scrolls, and shows it */ }
      else {
        const what = scrolls(cs) ? "scrolls sideways with no cue" : "content wider than its box";
        out.push(`${path(el)}: ${what}: ${el.scrollWidth} px in ${el.clientWidth} px`);
      }
    }
    const parent = blockParent(el);
    if (!parent || parent === html || parent === document.body || scrolls(getComputedStyle(parent))) { continue; }
    if (cs.position === "fixed") { continue; }
    const r = el.getBoundingClientRect();
    const box = contentBox(parent);
    const over = Math.max(r.right - box.right, box.left - r.left);
    if (over > 1.5) {
      out.push(`${path(el)}: ${Math.round(r.width)} px wide, sticks out of ${name(parent)} ` +
               `(${Math.round(box.right - box.left)} px content box) by ${Math.round(over)} px`);
    }
  }
  return out;
}"""

# Rows of summary cards that end short of the row: a hole.
CARD_HOLES = """() => {
  const out = [];
  for (const grid of document.querySelectorAll(".cd-cards")) {
    const r = grid.getBoundingClientRect();
    const cs = getComputedStyle(grid);
    const right = r.right - parseFloat(cs.paddingRight) - parseFloat(cs.borderRightWidth);
    const rows = new Map();
    for (const card of grid.children) {
      const c = card.getBoundingClientRect();
      const top = Math.round(c.top);
      rows.set(top, Math.max(rows.get(top) || 0, c.right));
    }
    for (const [top, end] of rows) {
      if (right - end > 1.5) { out.push(`card row at y=${top} ends ${Math.round(right - end)} px short`); }
    }
  }
  return out;
}"""

# Headings whose rendered text differs from their text (text-transform changes names' case).
TRANSFORMED_HEADINGS = """() => {
  const norm = (s) => s.replace(/\\s+/g, " ").trim();
  return [...document.querySelectorAll("#cd-root :is(h1, h2, h3, h4, caption, legend, tbody th)")]
    .filter((el) => el.offsetParent !== null && norm(el.innerText) !== norm(el.textContent))
    .map((el) => `${el.tagName.toLowerCase()}: ${norm(el.innerText)}`);
}"""

# LOCATION tokens (one address each) split over two lines.
BROKEN_LOCATION = """() => {
  const out = [];
  for (const el of document.querySelectorAll("[data-cd-bind=location]")) {
    const node = el.firstChild;
    if (!node || node.nodeType !== Node.TEXT_NODE) { continue; }
    const text = node.textContent;
    let at = 0;
    for (const token of text.split(/,\\s*/)) {
      const start = text.indexOf(token, at);
      at = start + token.length;
      if (!token) { continue; }
      const range = document.createRange();
      range.setStart(node, start);
      range.setEnd(node, start + token.length);
      const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (tops.size > 1) { out.push(`"${token}" breaks over ${tops.size} lines`); }
    }
  }
  return out;
}"""

# Buttons (and fields) sharing a line in one form: same height for buttons, same middle for all;
# forms side by side: their buttons on one line.
MISALIGNED_CONTROLS = """() => {
  const out = [];
  const visible = (el) => el.offsetParent !== null && !el.closest(".visually-hidden");
  // a form, and a table cell that may hold several (Save and Use default)
  for (const form of document.querySelectorAll("#cd-root form, #cd-root td")) {
    const controls = [...form.querySelectorAll(
      "button, a.button, input[type=submit], input[type=number], input[type=text], select")]
      .filter(visible).map((el) => ({ el, r: el.getBoundingClientRect() }));
    for (let i = 0; i < controls.length; i += 1) {
      for (let j = i + 1; j < controls.length; j += 1) {
        const a = controls[i], b = controls[j];
        const sameLine = a.r.top < b.r.bottom && b.r.top < a.r.bottom;
        if (!sameLine) { continue; }
        const mid = Math.abs((a.r.top + a.r.bottom) / 2 - (b.r.top + b.r.bottom) / 2);
        const buttons = [a, b].every((c) => c.el.matches("button, a.button, input[type=submit]"));
        const label = (c) => `${c.el.tagName.toLowerCase()} "${(c.el.innerText || c.el.value || c.el.name).trim()}"`;
        if (mid > 1.5) { out.push(`${label(a)} and ${label(b)}: middles ${mid.toFixed(1)} px apart`); }
        if (buttons && Math.abs(a.r.height - b.r.height) > 1.5) {
          out.push(`${label(a)} and ${label(b)}: ${a.r.height.toFixed(1)} and ${b.r.height.toFixed(1)} px high`);
        }
      }
    }
  }
  // Forms side by side (the invalidate page) end with their buttons on one line.
  for (const grid of document.querySelectorAll(".cd-forms")) {
    const rows = new Map();
    for (const section of grid.children) {
      const button = section.querySelector(":scope > form > .button");
      if (!button) { continue; }
      const top = Math.round(section.getBoundingClientRect().top);
      if (!rows.has(top)) { rows.set(top, []); }
      rows.get(top).push(button.getBoundingClientRect().top);
    }
    for (const tops of rows.values()) {
      if (Math.max(...tops) - Math.min(...tops) > 1.5) {
        out.push(`buttons of forms side by side at y = ${tops.map(Math.round).join(", ")}`);
      }
    }
  }
  return out;
}"""

# Height of each chart's canvas and plot area.
# A chart hidden on purpose (the cache is down: its caption says why) has no size to check.
CHART_SIZES = """() => [...document.querySelectorAll(".cd-chart:not([hidden]) canvas")].map((canvas) => {
  const chart = window.Chart && Chart.getChart(canvas);
  return { id: canvas.id, height: canvas.getBoundingClientRect().height,
           plot: chart ? chart.chartArea.bottom - chart.chartArea.top : 0 };
})"""


@pytest.fixture
def realistic(settings: Any, servers: Any, extra_alias: Any) -> Any:
    """A django_redis alias with long names, keys and addresses, many rows, and an alias that is down."""
    from cache_dashboard import CacheManager
    from cache_dashboard.models import TTLOverride

    if servers.redis is None:
        pytest.skip("redis-server is not installed")
    primary, replica = servers.redis.port, servers.redis_replica.port
    extra_alias(**{
        ALIAS: {"BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": [f"redis://127.0.0.1:{primary}/9", f"redis://127.0.0.1:{replica}/9"],
                "OPTIONS": {"SOCKET_TIMEOUT": 3, "SOCKET_CONNECT_TIMEOUT": 3}},
        DOWN: {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/15",
               "OPTIONS": {"SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2}},
    })
    settings.CACHE_DASHBOARD = {
        **settings.CACHE_DASHBOARD,
        "POLL_INTERVAL": 3600,  # no live poll while the page is measured
        "TTLS": {**{ns: 3600 for ns in NAMESPACES}, "ruc_invalid": 86400, "estadisticas_ventas": 300,
                 "sesion_de_consulta_masiva_de_comprobantes_electronicos_emitidos": 42},
    }
    cm = CacheManager(ALIAS)
    cm.clear_all()
    for i, ns in enumerate(NAMESPACES):
        for n in range(3):
            key = f"{LONG_KEY}:{n}" if ns == LONG_NS else f"2010004{7218 + n}"
            cm.set(key, {"razon_social": "EMPRESA DE TRANSPORTES Y SERVICIOS MULTIPLES S.A.C."}, namespace=ns)
            for _ in range(i + n):
                cm.get(key, namespace=ns)
        cm.get("no_existe", namespace=ns)
    for n in range(40):
        ns = NAMESPACES[n % len(NAMESPACES)]
        key = f"{LONG_KEY}:{n:04d}" if n % 2 else f"2099999{n:04d}"
        detail = {"source": "https://api.sunat.gob.pe/v1/contribuyente/padron-reducido/consulta?ruc=" + key,
                  "http_status": 503}
        cm.mark_invalid(key, REASONS[n % len(REASONS)], namespace=ns, detail=detail)
    cm.flush_stats()
    # Overrides: their rows get a second button ("Use default") beside Save.
    for name, seconds in ((LONG_NS, 86_400), ("ruc", 300)):
        TTLOverride.objects.create(name=name, seconds=seconds)
    return cm


def theme_context(browser: Any, viewport: str, theme: str) -> Any:
    """A context at the viewport, with the admin's theme chosen before the first page loads."""
    phone = viewport == "phone"
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="en-US", color_scheme=theme,
                                  is_mobile=phone, has_touch=phone)
    context.add_init_script(f"try {{ localStorage.setItem('theme', '{theme}'); }} catch (e) {{}}")
    return context


def open_pages(page: Any, base: str) -> Any:
    """Visit every dashboard page; yield (name, whether it draws a chart) once each is on screen."""
    q = f"?alias={ALIAS}"
    pages = [
        ("overview", f"{DASHBOARD}{q}", True),
        ("overview-down", f"{DASHBOARD}?alias={DOWN}", True),
        ("invalid", f"{DASHBOARD}invalid/{q}", True),
        ("invalid-namespace", f"{DASHBOARD}invalid/{q}&namespace=PadronReducido_SUNAT", True),
        ("invalid-empty", f"{DASHBOARD}invalid/?alias=locmem", False),
        ("ttl", f"{DASHBOARD}ttl/{q}", False),
        ("invalidate", f"{DASHBOARD}invalidate/{q}", False),
        ("clear", f"{DASHBOARD}clear/{q}", False),
        ("audit", f"{DASHBOARD}audit/{q}", False),
    ]
    for name, path, chart in pages:
        page.goto(base + path)
        page.wait_for_selector("#cd-root")
        if chart:
            page.wait_for_selector("#cd-root[data-cd-ready=true]")
            page.wait_for_function("() => [...document.querySelectorAll('.cd-chart canvas')]"
                                   ".every((c) => window.Chart && Chart.getChart(c))")
        yield name, chart
    # The pattern's confirmation is the answer to a POST: reached through the form.
    page.goto(f"{base}{DASHBOARD}invalidate/{q}")
    page.fill("#id_pat_pattern", "ruc:20100047218:comprobante:*")
    page.select_option("#id_pat_namespace", LONG_NS)
    with page.expect_navigation():
        page.get_by_role("button", name="Count matching keys").click()
    page.wait_for_selector(".cd-confirm")
    yield "pattern-confirm", False


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_nothing_overflows_on_any_page(
    browser: Any, live_server: Any, login: Any, realistic: Any, screenshot: Any,
    viewport: str, theme: str,
) -> None:
    context = theme_context(browser, viewport, theme)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    problems: dict[str, list[str]] = {}
    try:
        login(page)
        requests.clear()
        for name, chart in open_pages(page, live_server.url):
            assert page.evaluate("document.documentElement.dataset.theme") == theme, name
            shot = screenshot(page, f"layout-{name}-{viewport}-{theme}")
            found = [*page.evaluate(OVERFLOWS), *page.evaluate(CARD_HOLES), *page.evaluate(TRANSFORMED_HEADINGS),
                     *page.evaluate(BROKEN_LOCATION), *page.evaluate(MISALIGNED_CONTROLS)]
            for size in page.evaluate(CHART_SIZES):
                if size["height"] < 220 or size["plot"] < 150:
                    found.append(f"chart #{size['id']}: {size['height']:.0f} px high, plot {size['plot']:.0f} px")
            loaded = [url for url in requests if CHART_JS in url]
            if chart != bool(loaded):
                found.append(f"Chart.js {'not ' if chart else ''}loaded on a page that "
                             f"{'draws' if chart else 'draws no'} chart")
            requests.clear()
            if found:
                problems[f"{name} ({shot.name})"] = found
    finally:
        context.close()
    assert not errors, errors
    assert not problems, "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items())


# Draws the PNG on a canvas and says whether the middle of the glyph's ink box is inked.
INKED_MIDDLE = """async (png) => {
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const at = (x, y) => { const i = (y * img.width + x) * 4; return d[i] + d[i + 1] + d[i + 2]; };
  const bg = at(0, 0);
  const ink = (x, y) => Math.abs(at(x, y) - bg) > 150;
  let x0 = img.width, x1 = -1, y0 = img.height, y1 = -1;
  for (let y = 0; y < img.height; y += 1) {
    for (let x = 0; x < img.width; x += 1) {
      if (ink(x, y)) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
  }
  if (x1 < 0) { return null; }
  const cx = Math.round((x0 + x1) / 2), cy = Math.round((y0 + y1) / 2);
  for (let y = cy - 1; y <= cy + 1; y += 1) {
    for (let x = cx - 1; x <= cx + 1; x += 1) { if (ink(x, y)) { return true; } }
  }
  return false;
}"""


# A glyph in the font of the element given (its family, size and numeric variants), black on
# white, alone in a box at the top left of the page.
GLYPH_PROBE = """(el, glyph) => {
  const cs = getComputedStyle(el);
  let probe = document.getElementById("cd-glyph-probe");
  if (!probe) { probe = document.createElement("span"); probe.id = "cd-glyph-probe"; document.body.appendChild(probe); }
  for (const p of ["fontFamily", "fontSize", "fontWeight", "fontStyle", "fontVariantNumeric", "fontFeatureSettings"]) {
    probe.style[p] = cs[p];
  }
  // Whole pixels, so the screenshot holds the probe and nothing of the page around it.
  Object.assign(probe.style, { position: "fixed", left: "0", top: "0", width: "48px", height: "48px",
                               lineHeight: "48px", textAlign: "center", padding: "0", margin: "0",
                               background: "#fff", color: "#000", zIndex: "10000" });
  probe.textContent = glyph;
}"""


def test_zero_and_letter_o_differ_in_keys(browser: Any, live_server: Any, login: Any, realistic: Any) -> None:
    # A letter O typed for a zero is a classic cause of FORMATO_INVALIDO: the key font must show
    # which is which, at the size keys are shown: a zero has ink in its middle (slash or dot), an O none.
    context = theme_context(browser, "desktop", "light")
    page = context.new_page()
    try:
        login(page)
        page.goto(f"{live_server.url}{DASHBOARD}invalid/?alias={ALIAS}")
        key = page.locator("[data-cd-invalid-table] td code").first
        assert "slashed-zero" in key.evaluate("(el) => getComputedStyle(el).fontVariantNumeric")
        inked = {}
        for glyph in ("0", "O"):
            key.evaluate(GLYPH_PROBE, glyph)
            png = base64.b64encode(page.locator("#cd-glyph-probe").screenshot()).decode()
            inked[glyph] = page.evaluate(INKED_MIDDLE, png)
        assert inked == {"0": True, "O": False}, inked
    finally:
        context.close()


FADES = """(selector) => {
  const cs = getComputedStyle(document.querySelector(selector));
  return [parseFloat(cs.getPropertyValue("--cd-fade-start")), parseFloat(cs.getPropertyValue("--cd-fade-end"))];
}"""


def test_wide_table_fades_at_the_edge_it_hides(
    browser: Any, live_server: Any, login: Any, realistic: Any
) -> None:
    # The cue follows the scroll: a fade on the right while columns hide there, on both sides
    # half-way, on the left only at the end; a table that fits has none.
    # (The namespaces table: the invalid entries become cards on a phone instead.)
    wrap = ".cd-table-wrap:has([data-cd-namespaces-table])"
    context = theme_context(browser, "phone", "light")
    page = context.new_page()
    try:
        login(page)
        page.goto(f"{live_server.url}{DASHBOARD}?alias={ALIAS}")
        table = page.locator(wrap)
        assert table.evaluate("(el) => el.scrollWidth > el.clientWidth")
        assert "gradient" in table.evaluate("(el) => getComputedStyle(el).maskImage")  # what fades
        start, end = page.evaluate(FADES, wrap)
        assert start == 0 and end > 0, (start, end)
        # The scroll timeline applies on the next frame: wait for it, then check both edges.
        table.evaluate("(el) => { el.scrollLeft = (el.scrollWidth - el.clientWidth) / 2; }")
        page.wait_for_function(f"() => ({FADES})({wrap!r})[0] > 0")
        start, end = page.evaluate(FADES, wrap)
        assert start > 0 and end > 0, (start, end)
        table.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
        page.wait_for_function(f"() => ({FADES})({wrap!r})[1] === 0")
        start, end = page.evaluate(FADES, wrap)
        assert start > 0 and end == 0, (start, end)
    finally:
        context.close()
    context = theme_context(browser, "desktop", "light")
    page = context.new_page()
    try:
        login(page, "admin2")
        page.goto(f"{live_server.url}{DASHBOARD}?alias={ALIAS}")
        checks = ".cd-table-wrap:has([data-cd-checks])"
        assert page.locator(checks).evaluate("(el) => el.scrollWidth <= el.clientWidth")
        assert page.evaluate(FADES, checks) == [0, 0]
    finally:
        context.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_remove_button_is_in_sight(browser: Any, live_server: Any, login: Any, realistic: Any,
                                         viewport: str) -> None:
    # Long keys and details must not push a row's button into the scrolled-away part of its table.
    context = theme_context(browser, viewport, "light")
    page = context.new_page()
    try:
        login(page)
        page.goto(f"{live_server.url}{DASHBOARD}invalid/?alias={ALIAS}")
        hidden = page.evaluate("""() => {
          const wrap = document.querySelector(".cd-table-wrap:has([data-cd-invalid-table])").getBoundingClientRect();
          const buttons = [...document.querySelectorAll("[data-cd-invalid-table] button")];
          return [buttons.length, buttons.filter((b) => b.getBoundingClientRect().right > wrap.right + 0.5).length];
        }""")
        assert hidden[0] >= 25 and hidden[1] == 0, hidden
    finally:
        context.close()
