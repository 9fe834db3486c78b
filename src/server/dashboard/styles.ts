/** The dashboard's styles: inline, no external fonts or assets. */
export const STYLES = `
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fb; --accent:#2f5bd3;
  --ok:#12805c; --warn:#b54708; --bad:#c01048; --info:#2f5bd3; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; align-items:center; gap:18px; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
header h1 { font-size:16px; margin:0; letter-spacing:.02em; }
header nav a { margin-right:14px; color:var(--muted); text-decoration:none; font-weight:500; }
header nav a.active { color:var(--accent); }
header .who { margin-left:auto; color:var(--muted); }
main { padding:16px 20px; max-width:1400px; }
h2 { font-size:18px; margin:6px 0 12px; }
h3 { font-size:14px; margin:18px 0 6px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); }
table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; background:#fcfcfd; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
code, .mono { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12px; }
a { color:var(--accent); }
.badge { display:inline-block; padding:0 7px; border-radius:9px; font-size:12px; background:#eef2ff; color:var(--info); white-space:nowrap; }
.badge.completed, .badge.committed, .badge.undone, .badge.redriven, .badge.closed { background:#ecfdf3; color:var(--ok); }
.badge.failed, .badge.dead-lettered, .badge.compensation-failed, .badge.open-breaker, .badge.open { background:#fff1f3; color:var(--bad); }
.badge.parked, .badge.unknown, .badge.unsettled, .badge.cancelled, .badge.waiting, .badge.half-open { background:#fffaeb; color:var(--warn); }
.bar { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:8px 0 12px; }
input, select, button { font:inherit; padding:4px 8px; border:1px solid #d0d5dd; border-radius:6px; background:#fff; }
button { cursor:pointer; background:var(--accent); color:#fff; border-color:var(--accent); }
button.secondary { background:#fff; color:var(--fg); border-color:#d0d5dd; }
button.danger { background:var(--bad); border-color:var(--bad); }
button:disabled { opacity:.45; cursor:default; }
.banner { margin:0 0 12px; padding:8px 12px; border-radius:6px; background:#fff1f3; color:var(--bad); border:1px solid #fecdd6; }
.notice { margin:8px 0; padding:8px 12px; border-radius:6px; background:#f0f9ff; border:1px solid #b9e6fe; }
.muted { color:var(--muted); }
.grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(180px, 1fr)); gap:8px; margin-bottom:8px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
.card .k { color:var(--muted); font-size:12px; } .card .v { font-size:16px; font-weight:600; }
.login { max-width:380px; margin:60px auto; background:#fff; border:1px solid var(--line); border-radius:10px; padding:20px; }
.login input { width:100%; margin:8px 0 12px; }
ol.timeline { list-style:none; padding:0; margin:0; background:#fff; border:1px solid var(--line); max-height:420px; overflow:auto; }
ol.timeline li { padding:3px 8px; border-bottom:1px solid var(--line); font-family:ui-monospace, monospace; font-size:12px; white-space:pre-wrap; }
.chart { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px; }
.chart rect.bar-usd { fill:var(--accent); } .chart text { font-size:10px; fill:var(--muted); }
pre { white-space:pre-wrap; word-break:break-word; margin:0; }
`;
