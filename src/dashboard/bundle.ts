/**
 * Builds the dashboard's script from its TypeScript sources with esbuild (which tsx brings), once
 * per process and on first request, so roles that never serve `/` never pay for it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ui', 'main.ts');
let built: Promise<string> | undefined;

export function dashboardScript(): Promise<string> {
  built ??= (async () => {
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: [ENTRY], bundle: true, write: false, format: 'iife', target: 'es2020', minify: true,
      platform: 'browser', legalComments: 'none', logLevel: 'silent',
    });
    return r.outputFiles[0]!.text;
  })();
  built.catch(() => {
    built = undefined; // a failed build is retried on the next request
  });
  return built;
}
