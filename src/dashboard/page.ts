/** The dashboard's HTML shell (the script is /dashboard.js). No external resources: no CDN, no web fonts. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickgate</title>
<link rel="icon" href="data:,">
<style>
:root { color-scheme: light dark; --up: #1a7f37; --down: #cf222e; --muted: #8b949e; --line: #d0d7de40; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0 auto 0 0; }
main { padding: 1rem; max-width: 72rem; margin: 0 auto; }
form { display: grid; gap: .6rem; max-width: 20rem; }
input, button { font: inherit; padding: .45rem .6rem; border-radius: 6px; border: 1px solid var(--muted); }
button { cursor: pointer; background: transparent; }
#message { min-height: 1.4em; color: var(--down); }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; border: 1px solid currentColor; }
.conn-connected, .state-live { color: var(--up); }
.conn-reconnecting, .conn-connecting, .conn-conflating, .state-paused, .state-waiting { color: #9a6700; }
.conn-closed, .state-stale { color: var(--down); }
#search { width: 100%; max-width: 20rem; }
#picker { display: flex; flex-wrap: wrap; gap: .3rem; margin: .5rem 0 1rem; max-height: 8rem; overflow: auto; color: var(--muted); }
.pick { font-size: .8rem; padding: .2rem .45rem; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: .8rem; }
.num { text-align: right; }
.pos { color: var(--up); } .neg { color: var(--down); }
.spark svg { width: 60px; height: 20px; display: block; color: var(--muted); }
tr.up td.last { animation: up .6s ease-out; } tr.down td.last { animation: down .6s ease-out; }
@keyframes up { from { background: #1a7f3766; } to { background: transparent; } }
@keyframes down { from { background: #cf222e66; } to { background: transparent; } }
.remove { border: none; padding: 0 .4rem; color: var(--muted); }
.table-wrap { overflow-x: auto; }
@media (max-width: 600px) { .wide { display: none; } main { padding: .5rem; } body { font-size: 13px; } th, td { padding: .3rem .25rem; } .spark svg { width: 40px; } header { padding: .5rem; } }
</style>
</head>
<body>
<header><h1>tickgate</h1>
  <span>connection <span id="conn" class="badge">offline</span></span>
  <span>last tick lag <b id="lag">–</b></span>
  <span id="user"></span>
</header>
<main>
  <p id="message" role="status"></p>
  <section id="login" hidden>
    <form id="login-form">
      <input id="username" name="username" autocomplete="username" placeholder="username" required minlength="3" maxlength="32">
      <input id="password" name="password" type="password" autocomplete="current-password" placeholder="password" required minlength="8">
      <div><button type="submit" value="login">Log in</button> <button type="submit" value="register">Register</button></div>
    </form>
  </section>
  <section id="live" hidden>
    <input id="search" type="search" placeholder="search tokens" aria-label="search tokens">
    <div id="picker"></div>
    <div class="table-wrap"><table>
      <thead><tr><th>token</th><th class="num">last</th><th class="num">chg</th><th class="num wide">bid</th><th class="num wide">ask</th><th class="num wide">volume</th><th>trend</th><th>feed</th><th></th></tr></thead>
      <tbody id="rows"></tbody>
    </table></div>
    <p><button id="logout" type="button">Log out</button></p>
  </section>
</main>
<script src="/dashboard.js" defer></script>
</body>
</html>
`;
