/**
 * The live dashboard at `/` (browser code, bundled by ../bundle.ts with esbuild). Built on the SDK:
 * login/register, a token picker fed by /api/instruments, and a live table with up/down flashes,
 * a sparkline and a live/paused/stale badge per token. Ticks only mark rows dirty; the DOM is
 * updated once per animation frame, so 100 tokens × 10 ticks/s cost one layout per frame.
 */
import { TickgateClient, TickgateError, type Session, type TokenRow } from '../../client/index.ts';

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const STORE = 'tickgate.session';

const base = location.origin;
let client: TickgateClient | undefined;
let instruments: { token: number; ltp: number; state: string }[] = [];
const rows = new Map<number, HTMLTableRowElement>();
const dirty = new Set<number>();
let frame = 0;
let lastLag: number | undefined;

function show(view: 'login' | 'live') {
  $('#login').hidden = view !== 'login';
  $('#live').hidden = view !== 'live';
}

function message(text: string) {
  $('#message').textContent = text;
}

function fmt(v: number | undefined, digits = 2) {
  return v === undefined ? '–' : v.toFixed(digits);
}

function saveSession(s: Session | undefined) {
  if (s) sessionStorage.setItem(STORE, JSON.stringify(s));
  else sessionStorage.removeItem(STORE);
}

function errorText(err: unknown): string {
  if (err instanceof TickgateError) {
    if (err.code === 'invalid_credentials') return 'Wrong username or password.';
    if (err.code === 'username_taken') return 'That username is taken.';
    if (err.code === 'unreachable') return 'The server cannot be reached.';
    return err.message;
  }
  return String(err);
}

async function onLogin(ev: SubmitEvent) {
  ev.preventDefault();
  const register = (ev.submitter as HTMLButtonElement | null)?.value === 'register';
  const user = $<HTMLInputElement>('#username').value.trim();
  const password = $<HTMLInputElement>('#password').value;
  const c = newClient();
  try {
    if (register) await c.register(user, password);
    await c.login(user, password);
    message('');
    await start(c, user);
  } catch (err) {
    message(errorText(err));
  }
}

function newClient(session?: Session) {
  const c = new TickgateClient({ url: base, session });
  c.on('session', saveSession);
  return c;
}

async function start(c: TickgateClient, user: string) {
  client = c;
  $('#user').textContent = user;
  show('live');
  c.on('connected', () => setConn());
  c.on('reconnecting', () => setConn());
  c.on('status', () => {
    setConn();
    for (const token of c.wantedTokens()) dirty.add(token);
    schedule();
  });
  c.on('tick', (t) => {
    dirty.add(t.token);
    if (!t.snapshot) lastLag = Date.now() - t.ts;
    schedule();
  });
  c.on('notice', (n) => message(`Notice: ${n.message}`));
  c.on('gap', (g) => message(`Token ${g.token}: ticks ${g.from}–${g.to} were lost upstream.`));
  c.on('closed', (e) => {
    setConn();
    if (e.code === 4003 || e.code === 4001) {
      saveSession(undefined);
      message('Your session has ended. Please log in again.');
      show('login');
    }
  });
  await c.connect();
  setConn();
  instruments = await c.instruments();
  renderPicker();
}

function setConn() {
  const c = client;
  if (!c) return;
  const state = c.conflating ? 'conflating' : c.state;
  const el = $('#conn');
  el.textContent = state;
  el.className = `badge conn-${state}`;
}

function renderPicker() {
  const q = $<HTMLInputElement>('#search').value.trim();
  const list = $('#picker');
  const subscribed = new Set(client?.wantedTokens() ?? []);
  const matches = instruments.filter((i) => !subscribed.has(i.token) && String(i.token).includes(q)).slice(0, 40);
  list.replaceChildren(...matches.map((i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'pick';
    b.dataset.token = String(i.token);
    b.textContent = `${i.token} · ${fmt(i.ltp)}`;
    return b;
  }));
  if (matches.length === 0) list.textContent = q ? 'No token matches.' : 'All known tokens are in the table.';
}

async function add(token: number) {
  if (!client) return;
  addRow(token);
  renderPicker();
  try {
    await client.subscribe([token]);
  } catch (err) {
    message(errorText(err));
  }
}

function addRow(token: number) {
  if (rows.has(token)) return;
  const tr = document.createElement('tr');
  tr.dataset.token = String(token);
  tr.innerHTML = '<td class="token"></td><td class="last num"></td><td class="chg num"></td><td class="bid num wide"></td><td class="ask num wide"></td><td class="vol num wide"></td><td class="spark"><svg viewBox="0 0 60 20" preserveAspectRatio="none"><polyline fill="none" stroke="currentColor" stroke-width="1.2"/></svg></td><td><span class="badge state"></span></td><td><button type="button" class="remove" aria-label="remove">×</button></td>';
  (tr.querySelector('.token') as HTMLElement).textContent = String(token);
  $('#rows').append(tr);
  rows.set(token, tr);
  dirty.add(token);
  schedule();
}

async function remove(token: number) {
  rows.get(token)?.remove();
  rows.delete(token);
  renderPicker();
  await client?.unsubscribe([token]).catch((err: unknown) => message(errorText(err)));
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

function sparkline(history: number[]): string {
  if (history.length < 2) return '';
  const min = Math.min(...history);
  const max = Math.max(...history);
  const span = max - min || 1;
  return history.map((v, i) => `${((i / (history.length - 1)) * 60).toFixed(1)},${(19 - ((v - min) / span) * 18).toFixed(1)}`).join(' ');
}

function renderRow(tr: HTMLTableRowElement, r: TokenRow) {
  const cell = (cls: string) => tr.querySelector(`.${cls}`) as HTMLElement;
  const last = cell('last');
  const text = fmt(r.tick.ltp);
  if (last.textContent !== text && r.direction !== 0) {
    // Restart the flash animation: remove the class, force a style flush, add it back.
    tr.classList.remove('up', 'down');
    void tr.offsetWidth;
    tr.classList.add(r.direction > 0 ? 'up' : 'down');
  }
  last.textContent = text;
  const chg = cell('chg');
  chg.textContent = r.tick.change === undefined ? '–' : `${r.tick.change >= 0 ? '+' : ''}${r.tick.change.toFixed(2)}%`;
  chg.className = `chg num ${r.tick.change === undefined ? '' : r.tick.change >= 0 ? 'pos' : 'neg'}`;
  cell('bid').textContent = fmt(r.tick.bid);
  cell('ask').textContent = fmt(r.tick.ask);
  cell('vol').textContent = r.tick.volume === undefined ? '–' : String(r.tick.volume);
  (tr.querySelector('polyline') as SVGPolylineElement).setAttribute('points', sparkline(r.history));
  const badge = cell('state');
  const state = r.state === 'unknown' ? 'waiting' : r.state;
  badge.textContent = state;
  badge.className = `badge state state-${state}`;
}

function render() {
  frame = 0;
  const c = client;
  if (!c) return;
  for (const token of dirty) {
    const tr = rows.get(token);
    const r = c.view.get(token);
    if (tr && r) renderRow(tr, r);
  }
  dirty.clear();
  $('#lag').textContent = lastLag === undefined ? '–' : `${Math.max(0, lastLag)} ms`;
}

async function logout() {
  try {
    await client?.logout();
  } catch (err) {
    message(errorText(err));
  }
  client = undefined;
  saveSession(undefined);
  rows.clear();
  $('#rows').replaceChildren();
  show('login');
}

function init() {
  $<HTMLFormElement>('#login-form').addEventListener('submit', (ev) => void onLogin(ev as SubmitEvent));
  $('#search').addEventListener('input', renderPicker);
  $('#picker').addEventListener('click', (ev) => {
    const t = (ev.target as HTMLElement).closest<HTMLElement>('.pick');
    if (t?.dataset.token) void add(Number(t.dataset.token));
  });
  $('#rows').addEventListener('click', (ev) => {
    const tr = (ev.target as HTMLElement).closest('tr');
    if ((ev.target as HTMLElement).classList.contains('remove') && tr?.dataset.token) void remove(Number(tr.dataset.token));
  });
  $('#logout').addEventListener('click', () => void logout());
  setInterval(() => {
    // Ticks per second and staleness change without ticks too.
    for (const t of rows.keys()) dirty.add(t);
    schedule();
  }, 1_000);
  const saved = sessionStorage.getItem(STORE);
  if (saved) {
    const s = JSON.parse(saved) as Session;
    const c = newClient(s);
    c.me().then((me) => start(c, me.username)).catch(() => {
      saveSession(undefined);
      show('login');
    });
  } else show('login');
}

init();
