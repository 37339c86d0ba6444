"""The pages of pairing, self-contained (no Dash, no scripts; the dashboard's colours): the login
form, and the Phones page where a paired phone invites another (a one-time code and its QR code)
and signs phones out. Every value put in them is escaped."""

from __future__ import annotations

import html
import time
from collections.abc import Iterable

from hiitpi.pairing import Phone, format_code

STYLE = """
:root{--bg:#0f172a;--card:#1e293b;--line:#334155;--text:#e2e8f0;--dim:#94a3b8;--go:#16a34a;
 --accent:#38bdf8;--bad:#fca5a5;--ok:#22c55e}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--text);
 font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:17px}
main{max-width:28rem;margin:0 auto;padding:24px 16px 48px}
.brand{font-weight:800;letter-spacing:.05em;color:var(--accent);font-size:1.1rem;margin:0 0 18px}
h1{font-size:1.6rem;margin:0 0 6px}
h2{font-size:1.15rem;margin:0 0 8px}
p{line-height:1.45;color:var(--dim);margin:8px 0}
.card{background:var(--card);border-radius:16px;padding:18px;margin:16px 0}
label{display:block;color:var(--dim);font-size:.9rem;margin:0 0 6px}
input[type=text]{width:100%;min-height:56px;font-size:1.5rem;padding:10px 14px;border-radius:12px;
 border:1px solid var(--line);background:var(--bg);color:var(--text);letter-spacing:.15em;
 text-transform:uppercase;text-align:center}
input[type=text]:focus{outline:2px solid var(--accent);outline-offset:1px}
button,.btn{min-height:56px;width:100%;margin-top:12px;padding:0 18px;border:0;border-radius:12px;
 font-size:1.15rem;font-weight:700;cursor:pointer;color:#fff;background:var(--go);display:flex;
 align-items:center;justify-content:center;text-decoration:none}
.btn-secondary{background:#334155}
.btn-small{min-height:44px;width:auto;margin:0;font-size:1rem;background:#334155}
.err{color:var(--bad);font-weight:600}
.ok{color:var(--ok);font-weight:600}
.code{font-size:2.2rem;font-weight:800;letter-spacing:.12em;text-align:center;color:var(--text);
 font-variant-numeric:tabular-nums;margin:8px 0}
.qr{background:#fff;border-radius:12px;padding:8px;display:flex;justify-content:center}
.qr svg{width:100%;max-width:260px;height:auto}
.phones{list-style:none;padding:0;margin:0}
.phones li{display:flex;align-items:center;gap:12px;padding:12px 0;border-top:1px solid var(--line)}
.phones li:first-child{border-top:0}
.phones .who{flex:1;min-width:0}
.phones .name{font-weight:700;color:var(--text)}
.phones .when{color:var(--dim);font-size:.85rem}
.tag{background:#0c4a6e;color:#bae6fd;border-radius:8px;padding:2px 8px;font-size:.8rem;margin-left:6px}
a{color:var(--accent)}
small{color:var(--dim)}
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="#0f172a">
<meta name="robots" content="noindex">
<link rel="icon" href="/favicon.ico">
<title>{title}</title>
<style>{style}</style></head><body><main>
<div class="brand">HIIT PI</div>
{body}
</main></body></html>"""


def _page(title: str, body: str) -> str:
    return PAGE.format(title=html.escape(title), style=STYLE, body=body)


def login_page(message: str = "", *, next_path: str = "/", maxlen: int = 64, ok: bool = False) -> str:
    note = f'<p class="{"ok" if ok else "err"}" role="alert">{html.escape(message)}</p>' if message else ""
    body = f"""<h1>Pair this phone</h1>
<p>Type the pairing code, or scan its QR code with the camera.</p>
{note}
<form class="card" method="post" action="/login">
 <input type="hidden" name="next" value="{html.escape(next_path, quote=True)}">
 <label for="code">Pairing code</label>
 <input type="text" id="code" name="code" autocomplete="one-time-code" autocapitalize="characters"
   spellcheck="false" maxlength="{maxlen}" placeholder="ABCDE-FGHJK" required autofocus>
 <button type="submit">Pair</button>
</form>
<p><small>No code? A phone that is already paired can make one on its <b>Phones</b> page. On the
device itself, <code>hiitpi pair --show</code> makes a new one. A code works once, for a few
minutes.</small></p>"""
    return _page("HIIT PI – pair this phone", body)


def _ago(then: float, now: float) -> str:
    s = max(0, int(now - then))
    if s < 90:
        return "just now"
    if s < 5400:
        return f"{s // 60} minutes ago"
    if s < 172800:
        return f"{s // 3600} hours ago"
    return time.strftime("%d %b %Y", time.localtime(then))


def phones_page(
    phones: Iterable[Phone],
    me: str | None,
    *,
    invite: tuple[str, str, str, float] | None = None,
    message: str = "",
) -> str:
    """``invite``: (code, link, QR as SVG, minutes it is good for) after one was made."""
    now = time.time()
    if invite is not None:
        code, link, svg, minutes = invite
        top = f"""<div class="card" id="invite">
 <h1>Invite a phone</h1>
 <p>On the other phone, scan this code with the camera, or open the dashboard and type the code.</p>
 <div class="qr">{svg}</div>
 <div class="code" id="invite-code">{html.escape(format_code(code))}</div>
 <p>It pairs <b>one</b> phone, within <b>{minutes:g} minutes</b>. Nobody is signed out.</p>
 <p><small><a href="{html.escape(link, quote=True)}">{html.escape(link)}</a></small></p>
</div>"""
    else:
        top = """<h1>Phones</h1>
<p>Add another family phone without signing anyone out: make a one-time invite code here and scan
it with the other phone.</p>
<form method="post" action="/pair/invite"><button type="submit" id="make-invite">Invite a phone</button></form>"""
    note = f'<p class="ok" role="status">{html.escape(message)}</p>' if message else ""
    rows = []
    for p in sorted(phones, key=lambda p: p.paired):
        this = p.id == me
        tag = '<span class="tag">this phone</span>' if this else ""
        action = "/logout" if this else "/pair/revoke"
        label = "Sign out" if this else "Remove"
        rows.append(
            f"""<li><div class="who"><div class="name">{html.escape(p.name)}{tag}</div>
 <div class="when">paired {html.escape(_ago(p.paired, now))}{
                " from " + html.escape(p.address) if p.address else ""
            }</div></div>
 <form method="post" action="{action}"><input type="hidden" name="phone" value="{
                html.escape(p.id, quote=True)
            }">
 <button class="btn-small" type="submit">{label}</button></form></li>"""
        )
    body = f"""{top}
{note}
<div class="card"><h2>Paired phones</h2><ul class="phones" id="phones">{"".join(rows)}</ul></div>
<a class="btn btn-secondary" href="/">Back to the dashboard</a>
<p><small>On the device: <code>hiitpi pair --list</code>, <code>--revoke ID</code>, and
<code>--reset</code> (signs every phone out).</small></p>"""
    return _page("HIIT PI – phones", body)
