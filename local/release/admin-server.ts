// The admin routes of the local gateway, on their own port and bound to 127.0.0.1 whatever address
// the API listens on: release status, promote, rollback and retry, for `npx mlship canary ...`.
//   GET  /admin/releases                    every model's release status
//   POST /admin/releases/{model}/promote    end the deployment in progress with the new version live
//   POST /admin/releases/{model}/rollback   end it with all traffic on the old version
//   POST /admin/releases/{model}/retry      release a rolled-back version again (golden check first)
//   GET  /  and  /status.json               the status page (when the gateway passes it), keyless here
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReleaseError, type ReleaseManager } from './manager';

export interface AdminServer {
  readonly url: string;
  close(): Promise<void>;
}

const ACTION_PATH = /^\/admin\/releases\/([a-z][a-z0-9-]*)\/(promote|rollback|retry)$/;

function reply(res: ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  reply(res, status, { error: { code, message } });
}

async function readReason(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) return undefined;
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    const reason = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason.slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}

/** Answers a request the admin routes do not (the status page); false to let them 404. */
export type ExtraRoutes = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/**
 * Binding to 127.0.0.1 keeps other machines out, not web pages: a page the user opens elsewhere could
 * point a name of its own at 127.0.0.1 (DNS rebinding) and call promote or rollback. A browser sends that
 * name as Host, so only loopback names are answered.
 */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}` || host === `[::1]:${port}`;
}

async function handle(manager: ReleaseManager, req: IncomingMessage, res: ServerResponse, extra: ExtraRoutes | undefined, port: number): Promise<void> {
  if (!isLoopbackHost(req.headers.host, port)) {
    return error(res, 421, 'misdirected_request', `the admin routes answer only for Host 127.0.0.1:${port} or localhost:${port}, received ${JSON.stringify((req.headers.host ?? '').slice(0, 100))}`);
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (extra?.(req, res, path)) return;
  if (path === '/admin/releases') {
    if (req.method !== 'GET') return error(res, 405, 'method_not_allowed', `use GET on ${path}`);
    return reply(res, 200, { models: manager.statuses() });
  }
  const action = ACTION_PATH.exec(path);
  if (!action) return error(res, 404, 'route_not_found', `no admin route ${req.method} ${path.slice(0, 200)}; see GET /admin/releases`);
  if (req.method !== 'POST') return error(res, 405, 'method_not_allowed', `use POST on ${path}`);
  const [, model, verb] = action as unknown as [string, string, 'promote' | 'rollback' | 'retry'];
  const release = manager.get(model);
  if (!release) return error(res, 404, 'model_not_found', `model '${model}' is not served`);
  const reason = (await readReason(req)) ?? `${verb} by hand`;
  if (verb === 'retry') {
    try {
      return reply(res, 200, await manager.retry(model));
    } catch (failure) {
      if (failure instanceof ReleaseError) return error(res, 409, 'conflict', failure.message);
      throw failure;
    }
  }
  const done = verb === 'promote' ? release.promote('manual', reason) : release.rollback('manual', reason);
  if (!done) return error(res, 409, 'conflict', `${model}: no deployment in progress; v${release.status().live} serves all traffic`);
  return reply(res, 200, release.status());
}

export async function startAdminServer(manager: ReleaseManager, port: number, extra?: ExtraRoutes): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    handle(manager, req, res, extra, (server.address() as AddressInfo).port).catch((failure: unknown) => {
      if (!res.headersSent) error(res, 500, 'internal_error', `admin action failed: ${(failure as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
