/** `GET /` (§5): the live dashboard page, and its script built from src/dashboard/ui. */
import { dashboardScript } from '../dashboard/bundle.ts';
import { DASHBOARD_HTML } from '../dashboard/page.ts';
import type { GatewayContext } from './context.ts';
import { Reply } from './http.ts';

/** Everything from this origin; sockets to it; nothing from anywhere else. */
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function registerDashboardRoutes(ctx: GatewayContext): void {
  ctx.app.get('/', (res) => new Reply(res).text(200, DASHBOARD_HTML, 'text/html; charset=utf-8', { 'content-security-policy': CSP }));
  ctx.app.get('/dashboard.js', (res) => {
    const reply = new Reply(res);
    dashboardScript().then(
      (js) => reply.text(200, js, 'text/javascript; charset=utf-8'),
      (err: unknown) => {
        ctx.log.error({ err }, 'dashboard build failed');
        reply.error('internal');
      },
    );
  });
}
