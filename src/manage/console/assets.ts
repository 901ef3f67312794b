/**
 * The console's only stylesheet, script and icon, served from {prefix}/ui/assets/<version>/…
 * with a year-long immutable cache: pages carry no inline style or script, so the CSP stays
 * `default-src 'none'` plus 'self' for these. Bump ASSET_VERSION when one changes.
 */
export const ASSET_VERSION = "3";

export const CONSOLE_CSS = `
*,*::before,*::after{box-sizing:border-box}
:root{--fg:#1c2430;--muted:#5a6472;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--accent:#3346c8;--accent-dark:#26369c;--danger:#b42318}
html{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
body{margin:0}
a{color:var(--accent)}a:hover{color:var(--accent-dark)}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px 10px;z-index:2}
.top{display:flex;align-items:center;gap:24px;padding:0 28px;height:56px;background:#111827;color:#e5e7eb}
.top a{color:#e5e7eb;text-decoration:none}.top a:hover{color:#fff;text-decoration:underline}
.brand{font-weight:700;letter-spacing:.02em;font-size:17px}
.top nav{display:flex;gap:18px;flex:1}
.who{display:flex;align-items:center;gap:12px;font-size:13px;color:#cbd2dc}.who form{margin:0}
.who button{background:transparent;border:1px solid #4b5563;color:#e5e7eb;padding:4px 10px;border-radius:6px;font-size:13px}
.who button:hover{background:#1f2937}
main{max-width:1120px;margin:0 auto;padding:28px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}
.sub{color:var(--muted);margin:0 0 20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 22px;margin:0 0 18px}.card>h2:first-child{margin-top:0}
.narrow{max-width:440px;margin:60px auto}
label{display:block;font-weight:600;font-size:13px;margin:0 0 4px}
.hint{color:var(--muted);font-size:12.5px;margin:3px 0 0}
input,select{font:inherit;color:inherit;border:1px solid #b8c0cc;border-radius:7px;padding:7px 10px;background:#fff;min-width:0}
input:focus,select:focus,button:focus,a:focus{outline:3px solid #9aa8f5;outline-offset:1px}
.field{margin:0 0 14px}.field input,.field select{width:100%}
.row{display:flex;gap:12px;align-items:flex-end;flex-wrap:wrap}.row .field{flex:1;min-width:160px}
button,.button{font:inherit;font-weight:600;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:7px;padding:7px 14px;cursor:pointer;text-decoration:none;display:inline-block}
button:hover,.button:hover{background:var(--accent-dark);color:#fff}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}button.secondary:hover,.button.secondary:hover{background:#eef0fb;color:var(--accent-dark)}
button.danger{background:var(--danger);border-color:var(--danger)}button.danger:hover{background:#8f1c13}
.filters{display:flex;gap:10px;align-items:flex-end;flex-wrap:wrap;margin:0 0 14px}
.filters .field{margin:0}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:hidden;font-size:14px}
th,td{text-align:left;padding:10px 12px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f0f2f6;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#454e5c}
tr:last-child td{border-bottom:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:600}
.s-active{background:#d1e7dd;color:#0f5132}.s-disabled{background:#fff3cd;color:#664d03}.s-revoked{background:#f8d7da;color:#842029}
.s-expired,.s-rotated{background:#e2e3e5;color:#41464b}.s-rotating{background:#cfe2ff;color:#084298}
.tag{display:inline-block;background:#eef0f4;border-radius:5px;padding:0 6px;margin:0 4px 2px 0;font-size:12.5px}
.secret{display:flex;gap:10px;align-items:center;background:#0f172a;color:#e2e8f0;border-radius:8px;padding:12px 14px;margin:6px 0 14px}
.secret code{flex:1;color:#e2e8f0;word-break:break-all;font-size:14px}
.secret button{background:#fff;color:#0f172a;border-color:#fff}.secret button:hover{background:#e2e8f0;color:#0f172a}
.notice{border-left:4px solid #b54708;background:#fffaeb;padding:10px 14px;border-radius:6px;margin:0 0 16px}
.notice.done{border-left-color:#067647;background:#ecfdf3}
.error{border-left:4px solid var(--danger);background:#fef3f2;padding:10px 14px;border-radius:6px;margin:0 0 16px}
.field-error{color:var(--danger);font-size:12.5px;margin:3px 0 0}
dl.props{display:grid;grid-template-columns:160px 1fr;gap:8px 16px;margin:0}dl.props dt{color:var(--muted)}dl.props dd{margin:0}
.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:16px}
.actions .card{margin:0}.actions h3{margin:0 0 10px;font-size:15px}
ol.timeline{list-style:none;padding:0;margin:0}ol.timeline li{padding:10px 0;border-bottom:1px solid var(--line)}
ol.timeline li:last-child{border-bottom:0}
.muted{color:var(--muted)}.orgs{list-style:none;padding:0;margin:0}.orgs li{padding:8px 0;border-bottom:1px solid var(--line)}
.pager{margin:12px 0}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
.charts{display:grid;grid-template-columns:1fr;gap:10px}
.chart{margin:0}.chart figcaption{font-weight:600;font-size:14px;margin:0 0 6px}
.chart-svg{width:100%;height:auto;display:block}
.chart .axis{stroke:#8a94a3;stroke-width:1}.chart .grid{stroke:#e5e8ee;stroke-width:1}
.chart .tick{font-size:11px;fill:#5a6472}
.bar-f{fill:#3346c8}.bar-r{fill:#c2410c}
.legend{font-size:12.5px;color:var(--muted);margin:4px 0 0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;vertical-align:baseline}
.swatch-f{background:#3346c8}.swatch-r{background:#c2410c}
.events{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:4px 12px;margin:0 0 14px;padding:0;border:0}
.events label{font-weight:400;display:flex;gap:6px;align-items:center}.events input{width:auto}
fieldset{border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:0 0 14px}legend{font-weight:600;font-size:13px;padding:0 4px}
.inline{display:inline}
`;

/** Copy buttons: hidden until this runs (without JavaScript the key is selectable text). */
export const CONSOLE_JS = `
for (const b of document.querySelectorAll("button[data-copy]")) {
  b.hidden = false;
  b.addEventListener("click", async () => {
    const text = document.getElementById(b.dataset.copy).textContent.trim();
    const status = document.getElementById("copy-status");
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = "Copied";
      if (status) status.textContent = "Copied to the clipboard.";
    } catch {
      if (status) status.textContent = "Copy failed: select the text and copy it.";
    }
    setTimeout(() => { b.textContent = b.dataset.label; }, 2000);
  });
}
`;

/** The console's icon: a key on the brand's dark square (every page links it; no /favicon.ico is asked for). */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#111827"/><circle cx="12" cy="16" r="5" fill="none" stroke="#e5e7eb" stroke-width="3"/><path d="M17 16h10m-3 0v4m-3-4v3" stroke="#e5e7eb" stroke-width="3" fill="none"/></svg>`;
