/** `GET /metrics`: Prometheus text over every process of the deployment (see metrics/snapshots.ts). */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { aggregatedMetrics, type MetricsPublisher } from '../metrics/snapshots.ts';
import type { TemplatedApp } from './uws.ts';

export function registerMetricsRoute(app: TemplatedApp, redis: Redis, publisher: MetricsPublisher, log: Logger): void {
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    aggregatedMetrics(redis, publisher).then(
      ({ text, contentType }) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus('200 OK');
          res.writeHeader('content-type', contentType);
          res.writeHeader('cache-control', 'no-store');
          // Which worker answered (the totals are the same whichever does).
          res.writeHeader('x-tickgate-worker', String(process.pid));
          res.end(text);
        });
      },
      (err: unknown) => {
        log.warn({ err }, 'metrics aggregation failed');
        if (aborted) return;
        res.cork(() => {
          res.writeStatus('503 Service Unavailable');
          res.writeHeader('content-type', 'application/json');
          res.end(JSON.stringify({ error: { code: 'unavailable', message: 'a backing service is unavailable; retry shortly' } }));
        });
      },
    );
  });
}
