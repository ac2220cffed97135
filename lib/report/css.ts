/** report.html's only style sheet, inlined in a `<style>` element (the page's policy allows no other). */
export const CSS = `
:root{--text:#1d2939;--muted:#667085;--line:#e4e7ec;--bg:#ffffff;--panel:#f9fafb;--accent:#2f6fd0;
--crit:#b42318;--crit-bg:#fef3f2;--crit-line:#fda29b;--warn:#b54708;--warn-bg:#fffaeb;--warn-line:#fec84b;
--info:#175cd3;--info-bg:#eff8ff;--info-line:#b2ddff;--ok:#067647;--ok-bg:#ecfdf3;--ok-line:#abefc6;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;
--sans:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--text);font:15px/1.5 var(--sans);-webkit-text-size-adjust:100%}
body{margin:0}
main{max-width:1120px;margin:0 auto;padding:28px 28px 48px}
header{border-bottom:1px solid var(--line);padding-bottom:14px;margin-bottom:20px}
.eyebrow{margin:0;color:var(--muted);font-size:13px;letter-spacing:.04em;text-transform:uppercase}
h1{font-size:26px;line-height:1.25;margin:4px 0 12px;overflow-wrap:anywhere}
h2{font-size:19px;margin:0 0 12px}
h3{font-size:15px;margin:18px 0 8px}
section{margin:0 0 28px}
code,.mono{font-family:var(--mono);font-size:.92em;overflow-wrap:anywhere;word-break:break-word}
h1 code{font-size:.9em}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0;font-size:14px}
dl.meta dt{color:var(--muted)}
dl.meta dd{margin:0;overflow-wrap:anywhere}
.verdict{border:1px solid var(--line);border-left:6px solid var(--accent);background:var(--panel);border-radius:8px;
padding:14px 18px}
.verdict p{margin:0;font-size:16px}
.verdict.sev-critical{border-left-color:var(--crit);background:var(--crit-bg)}
.verdict.sev-warning{border-left-color:var(--warn);background:var(--warn-bg)}
.verdict.sev-info{border-left-color:var(--info);background:var(--info-bg)}
.verdict code{background:rgba(255,255,255,.7);padding:1px 4px;border-radius:4px}
.figure{margin:6px 0 14px}
svg.chart{display:block;width:100%;max-width:960px;height:auto}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--panel);font-weight:600;color:#344054;font-size:12.5px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
td.pod{min-width:15em}
td.owner{min-width:10em}
td.dest{min-width:11em}
td code{font-size:12.5px}
tr.top td{background:#fff8f6}
table.kv{width:auto;min-width:360px}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid var(--line);white-space:nowrap}
.badge.critical{color:var(--crit);background:var(--crit-bg);border-color:var(--crit-line)}
.badge.warning{color:var(--warn);background:var(--warn-bg);border-color:var(--warn-line)}
.badge.info{color:var(--info);background:var(--info-bg);border-color:var(--info-line)}
.badge.host{color:var(--muted);font-weight:500}
ul.findings{list-style:none;padding:0;margin:0}
ul.findings li{border:1px solid var(--line);border-left-width:4px;border-radius:6px;padding:8px 12px;margin:0 0 8px}
ul.findings li.critical{border-left-color:var(--crit)}
ul.findings li.warning{border-left-color:var(--warn)}
ul.findings li.info{border-left-color:var(--info)}
.evidence{margin:4px 0 0;color:var(--muted);font-size:13px}
.evidence code{color:var(--text)}
ol.recs{padding-left:22px;margin:0}
ol.recs li{margin:0 0 10px}
ol.recs .applies{color:var(--muted);font-size:13px}
.muted{color:var(--muted)}
.none{color:var(--muted);font-style:italic;margin:8px 0 0}
ul.degraded li{margin:0 0 4px}
footer{border-top:1px solid var(--line);padding-top:10px;color:var(--muted);font-size:12.5px}
@media print{
html{font-size:12px}
main{max-width:none;padding:0}
section,figure,.verdict,ul.findings li,tr{break-inside:avoid}
.table-wrap{overflow:visible}
.verdict,.badge,th,tr.top td{-webkit-print-color-adjust:exact;print-color-adjust:exact}
a{color:inherit}
}
`
  .trim()
  .replace(/\n/g, '');
