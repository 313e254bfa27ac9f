"""The page's inline style and script, and the Content-Security-Policy that allows exactly
them: nothing is loaded from anywhere else."""

from __future__ import annotations

import base64
import hashlib

STYLE = """
:root{--ok:#2e7d32;--fail:#c62828;--warn:#ef6c00;--p50:#1565c0;--p95:#64b5f6;
--t50:#6a1b9a;--t95:#ba68c8;--rate:#00897b;--line:#d5d9e0;--muted:#5f6b7a;--bg:#f6f7f9}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2733;
background:var(--bg)}
header.top{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;
align-items:center;padding:.6rem 1.5rem;background:#1d2733;color:#fff}
header.top h1{font-size:1.15rem;margin:0}
header.top nav a{color:#cfe3ff;margin-right:.8rem;text-decoration:none}
header.top nav a:hover{text-decoration:underline}
#live{font-size:.85rem;color:#cfd8e3}#live.bad{color:#ffab91}
#pause{font:inherit;font-size:.8rem;padding:.1rem .6rem;border-radius:3px;border:1px solid #8795a8;
background:#2c3a4b;color:#fff;cursor:pointer}
main{padding:1rem 1.5rem 2rem}
section{margin:0 0 1.8rem;scroll-margin-top:3.5rem}
h2{font-size:1.1rem;margin:.2rem 0 .6rem;border-bottom:2px solid var(--line);padding-bottom:.2rem}
h3{font-size:1rem;margin:0 0 .3rem}
h3 small,.muted{color:var(--muted);font-weight:normal}
.tiles{display:flex;flex-wrap:wrap;gap:.8rem;margin:.2rem 0 1.4rem}
.tile{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.5rem .9rem;
min-width:9rem}
.tile b{display:block;font-size:1.35rem}.tile span{color:var(--muted);font-size:.8rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:1rem}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:.8rem 1rem}
.charts{display:flex;flex-wrap:wrap;gap:.6rem 1rem;margin:.4rem 0 .6rem}
tr.route .charts{flex-wrap:nowrap;margin:.2rem 0}tr.route td{max-width:18rem}
tr.route td:nth-child(4){max-width:none}tr.route .legend{display:none}
figure{margin:0}figcaption{font-size:.75rem;color:var(--muted)}
figcaption i{font-style:normal;display:inline-block;width:.7em;height:.7em;margin:0 .2em 0 .5em;
border-radius:2px}
table{border-collapse:collapse;background:#fff;margin:.3rem 0 .8rem}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:middle}
th{background:#eef1f5;font-weight:600;font-size:.85rem}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.share{white-space:nowrap}
.state{font-weight:600}.state.ok{color:var(--ok)}.state.bad{color:var(--fail)}
.state.warn{color:var(--warn)}.state.off{color:var(--muted)}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.8rem;background:#e8eaed}
.badge.ranked{background:#e3f2e5;color:var(--ok)}.badge.demoted{background:#fff1e0;color:var(--warn)}
.badge.excluded,.badge.unusable{background:#fde7e7;color:var(--fail)}
.reasons{font-size:.85rem;margin:0;padding-left:1rem}
.error{color:var(--fail);font-size:.85rem;max-width:28rem;overflow-wrap:anywhere}
svg.chart{background:#fbfcfd;border:1px solid #e3e7ec;display:block}
svg .axis{stroke:#c3cad3;stroke-width:1}
svg rect.ok{fill:var(--ok)}svg rect.fail{fill:var(--fail)}
svg polyline{fill:none;stroke-width:1.6}
svg .p50{stroke:var(--p50);fill:var(--p50)}svg .p95{stroke:var(--p95);fill:var(--p95)}
svg .t50{stroke:var(--t50);fill:var(--t50)}svg .t95{stroke:var(--t95);fill:var(--t95)}
svg .rate{stroke:var(--rate);fill:var(--rate)}
svg polyline.p50,svg polyline.p95,svg polyline.t50,svg polyline.t95,svg polyline.rate{fill:none}
svg.meter .track{fill:#e6e9ee}svg.meter.ok .fill{fill:var(--ok)}
svg.meter.high .fill{fill:var(--warn)}svg.meter.full .fill{fill:var(--fail)}
svg.meter.share .fill{fill:var(--p50)}svg.meter.score .fill{fill:var(--t50)}
.key-p50{background:var(--p50)}.key-p95{background:var(--p95)}.key-t50{background:var(--t50)}
.key-t95{background:var(--t95)}.key-ok{background:var(--ok)}.key-fail{background:var(--fail)}
.key-rate{background:var(--rate)}
footer{color:var(--muted);font-size:.85rem}
"""

# Re-renders <main> from the same URL with `fragment=1` every `data-refresh` seconds. The
# fetch is same-origin with the page's own credentials: a browser that got in with the HTTP
# Basic prompt (see gateway/api/auth.py) resends them, so the key never appears in a URL.
SCRIPT = """
(function () {
  "use strict";
  var body = document.body, main = document.getElementById("dashboard");
  var live = document.getElementById("live"), button = document.getElementById("pause");
  var every = Number(body.getAttribute("data-refresh")) * 1000;
  if (!main || !live || !window.fetch || !(every > 0)) return;
  var paused = false, busy = false, count = 0;
  function target() {
    var url = new URL(window.location.href);
    url.username = ""; url.password = ""; url.hash = "";
    url.searchParams.set("fragment", "1");
    return url.toString();
  }
  function say(text, bad) { live.textContent = text; live.className = bad ? "bad" : "ok"; }
  function refresh() {
    if (paused || busy || document.hidden) return;
    busy = true;
    fetch(target(), {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (response.status === 401) throw new Error("the key was refused; reload to sign in");
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var open = [];
        main.querySelectorAll("details[open][id]").forEach(function (d) { open.push(d.id); });
        main.innerHTML = html;
        open.forEach(function (id) {
          var d = document.getElementById(id);
          if (d) d.open = true;
        });
        count += 1;
        body.setAttribute("data-refreshes", String(count));
        say("live: updated " + new Date().toLocaleTimeString() + ", every " + every / 1000 + " s");
      })
      .catch(function (error) {
        say("update failed (" + error.message + "); showing the last figures", true);
      })
      .then(function () { busy = false; });
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = paused ? "resume" : "pause";
    if (paused) say("paused"); else refresh();
  });
  document.addEventListener("visibilitychange", refresh);
  say("live: every " + every / 1000 + " s");
  window.setInterval(refresh, every);
})();
"""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()

# Only the page's own inline script and style, fetches to itself, no frames, no forms.
CSP = (
    "default-src 'none'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; "
    "style-src 'unsafe-inline'; "
    "connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
