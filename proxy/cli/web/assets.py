"""The stylesheet and the script, served from /static/ (the Content-Security-Policy allows no
inline style or script, so an injected `<script>` or `style=` would not run even if it slipped
through escaping)."""

from __future__ import annotations

# Token classes are Pygments' short names (k keyword, s string, c comment, m number, n name...).
CSS = """
:root { --fg:#1f2328; --muted:#656d76; --line:#d8dee4; --bg:#f6f8fa; --card:#fff;
  --accent:#0969da; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --code:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--fg); background:var(--bg); }
a { color:var(--accent); text-decoration:none; } a:hover { text-decoration:underline; }
header { display:flex; align-items:center; gap:20px; padding:10px 24px; background:#24292f;
  color:#fff; }
header .brand { font-weight:600; } header nav a { color:#d0d7de; margin-right:14px; }
header nav a.active { color:#fff; font-weight:600; }
header .source { margin-left:auto; color:#9198a1; font:12px ui-monospace,monospace; }
main { padding:16px 24px 40px; max-width:1180px; }
h1 { font-size:20px; margin:4px 0 12px; } h1 code { font-size:18px; }
h2 { font-size:15px; margin:22px 0 8px; padding-bottom:4px; border-bottom:1px solid var(--line); }
h3 { font-size:14px; margin:14px 0 6px; color:var(--muted); }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px 16px;
  margin-bottom:14px; }
form.filters { display:flex; flex-wrap:wrap; gap:10px 14px; align-items:end; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
form.filters select { width:180px; } form.filters select[name=limit] { width:72px; }
form.filters label.check { flex-direction:row; align-items:center; gap:4px; padding-bottom:6px; }
form.filters input[type=text], form.filters select { font:inherit; padding:4px 6px; width:140px;
  border:1px solid var(--line); border-radius:4px; background:#fff; }
button { font:inherit; padding:4px 14px; border:1px solid #1f883d; border-radius:4px;
  background:#1f883d; color:#fff; cursor:pointer; }
.summary { color:var(--muted); margin:4px 0 8px; display:flex; gap:4px 16px; align-items:center;
  flex-wrap:wrap; } .summary > span:first-child, .summary > label { white-space:nowrap; }
.notice { color:var(--bad); font-weight:600; }
table.rows { border-collapse:collapse; width:100%; background:var(--card);
  border:1px solid var(--line); border-radius:6px; }
table.rows th, table.rows td { padding:5px 10px; border-bottom:1px solid var(--line);
  text-align:left; white-space:nowrap; }
table.rows th { background:var(--bg); font-weight:600; font-size:12px; color:var(--muted); }
table.rows td.num, table.rows th.num { text-align:right; font-variant-numeric:tabular-nums; }
table.rows td.id { font-family:ui-monospace,monospace; }
table.rows td.model, table.rows td.cost { max-width:220px; overflow:hidden;
  text-overflow:ellipsis; }
table.rows tr.new td { background:#fff8c5; }
.time { color:var(--muted); }
.status-ok { color:var(--ok); } .status-bad { color:var(--bad); font-weight:600; }
.status-warn { color:var(--warn); }
dl.meta { display:grid; grid-template-columns:max-content 1fr; gap:4px 18px; margin:0; }
dl.meta dt { color:var(--muted); } dl.meta dd { margin:0; overflow-wrap:anywhere; }
.tiles { display:flex; flex-wrap:wrap; gap:10px; margin:6px 0; }
.tile { border:1px solid var(--line); border-radius:6px; padding:6px 12px; background:var(--card);
  min-width:110px; }
.tile b { display:block; font-size:16px; } .tile span { color:var(--muted); font-size:12px; }
.segment { border-left:3px solid var(--line); padding:2px 0 2px 12px; margin:10px 0; }
.segment .label { font-size:12px; font-weight:600; color:var(--muted); text-transform:uppercase;
  letter-spacing:.04em; }
.segment.reasoning { border-color:#8c959f; } .segment.reasoning .text { color:var(--muted); }
.segment.code { border-color:#8250df; } .segment.answer { border-color:var(--ok); }
.segment.tool { border-color:var(--warn); } .segment.error { border-color:var(--bad); }
.segment.message { border-color:var(--accent); }
.text { white-space:pre-wrap; overflow-wrap:anywhere; margin:4px 0; }
pre { background:var(--code); border:1px solid var(--line); border-radius:6px; padding:8px 12px;
  overflow-x:auto; margin:4px 0; font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace; }
.muted { color:var(--muted); }
svg.plot { background:var(--card); border:1px solid var(--line); border-radius:6px; width:100%;
  height:auto; display:block; }
svg text { font:11px system-ui,sans-serif; fill:var(--muted); }
svg .grid { stroke:#eaeef2; } svg .axis { stroke:#8c959f; }
svg .bar-bg { fill:#eaeef2; } svg .waiting { fill:#f0c36d; } svg .streaming { fill:#9ec5fe; }
svg .mark { stroke:var(--fg); stroke-width:2; }
svg .p50 { fill-opacity:1; } svg .p95 { fill-opacity:.35; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; margin:4px 0 10px; }
.legend i { display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:4px; }
.series-0 { fill:#0969da; background:#0969da; } .series-1 { fill:#bf3989; background:#bf3989; }
.series-2 { fill:#1a7f37; background:#1a7f37; } .series-3 { fill:#bc4c00; background:#bc4c00; }
.series-4 { fill:#8250df; background:#8250df; } .series-5 { fill:#1b7c83; background:#1b7c83; }
.series-6 { fill:#9a6700; background:#9a6700; } .series-7 { fill:#57606a; background:#57606a; }
circle.error { stroke:var(--bad); stroke-width:2; fill-opacity:.25; }
.hl .k, .hl .kn, .hl .kc, .hl .kd, .hl .kr, .hl .ow { color:#cf222e; }
.hl .s, .hl .s1, .hl .s2, .hl .sa, .hl .sd, .hl .se, .hl .si, .hl .sb { color:#0a3069; }
.hl .c, .hl .c1, .hl .cm, .hl .ch { color:#6e7781; font-style:italic; }
.hl .m, .hl .mi, .hl .mf, .hl .mh, .hl .mo { color:#0550ae; }
.hl .nf, .hl .nc { color:#8250df; } .hl .nb, .hl .bp { color:#953800; }
details summary { cursor:pointer; color:var(--muted); }
"""

# The live tail: reload the rows fragment every two seconds while the box is ticked; rows not
# seen before are marked. Without script the page still works, as a plain listing.
JS = """
(function () {
  var box = document.getElementById('live');
  var body = document.getElementById('rows');
  if (!box || !body) { return; }
  var timer = null;
  function known() {
    var ids = {};
    body.querySelectorAll('tr[data-id]').forEach(function (r) { ids[r.dataset.id] = 1; });
    return ids;
  }
  function refresh() {
    var before = known();
    fetch(body.dataset.src, {credentials: 'same-origin'}).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.text();
    }).then(function (html) {
      body.innerHTML = html;
      body.querySelectorAll('tr[data-id]').forEach(function (r) {
        if (!before[r.dataset.id]) { r.classList.add('new'); }
      });
      var count = document.getElementById('count');
      if (count) { count.textContent = body.querySelectorAll('tr[data-id]').length; }
    }).catch(function () {});
  }
  function toggle() {
    if (timer) { clearInterval(timer); timer = null; }
    if (box.checked) { timer = setInterval(refresh, 2000); }
  }
  box.addEventListener('change', toggle);
  toggle();
})();
"""
