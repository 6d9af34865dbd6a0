// mlship canary status|promote|rollback|retry: acts on the running local gateway's releases through its
// admin routes (bound to 127.0.0.1). The gateway writes its admin URL to <state-dir>/gateway.json.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import type { ReleaseStatus } from '../../local/release/controller';
import { action } from './common';

interface CanaryFlags {
  adminUrl?: string;
  stateDir: string;
  json?: boolean;
}

interface ActionFlags extends CanaryFlags {
  model: string;
  reason?: string;
}

/** The admin URL: --admin-url, else the one the running gateway wrote into the state folder. */
export function adminUrl(flags: CanaryFlags): string {
  if (flags.adminUrl) return flags.adminUrl.replace(/\/$/, '');
  const pointer = join(resolve(flags.stateDir), 'gateway.json');
  if (!existsSync(pointer)) throw new Error(`no running gateway found (${pointer} does not exist): start one with npm start, or pass --admin-url`);
  return (JSON.parse(readFileSync(pointer, 'utf8')) as { adminUrl: string }).adminUrl;
}

async function call(url: string, method: 'GET' | 'POST', body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new Error(`the gateway's admin routes at ${new URL(url).origin} do not answer (${(error as Error).message}); is npm start running?`);
  }
  const payload = (await res.json()) as { error?: { message: string } };
  if (!res.ok) throw new Error(payload.error?.message ?? `admin route answered ${res.status}`);
  return payload;
}

/** One readable block per model. */
export function describeStatus(status: ReleaseStatus): string {
  const traffic = status.traffic.map((t) => `v${t.version} ${t.weight}%`).join(' + ');
  const lines = [`${status.model}: live v${status.live}; traffic ${traffic}`];
  const d = status.deployment;
  if (d) {
    lines.push(`  deployment v${d.from} -> v${d.to} (${d.strategy}, step ${d.step + 1} of ${d.schedule.length}, ${d.weight}% to v${d.to}, ${d.intervalMinutes} min per step), started ${d.startedAt}`);
  }
  if (status.rejected.length > 0) lines.push(`  rolled back or refused: ${status.rejected.map((v) => `v${v}`).join(', ')}`);
  const last = status.lastOutcome;
  if (last) lines.push(`  last release: v${last.from} -> v${last.to} ${last.outcome} by ${last.by} at ${last.at}: ${last.reason}`);
  return lines.join('\n');
}

function withCommon(command: Command): Command {
  return command
    .option('--admin-url <url>', "the gateway's admin URL (default: read from <state-dir>/gateway.json)")
    .option('--state-dir <dir>', 'the gateway state folder', '.mlship')
    .option('--json', 'print JSON');
}

function print(flags: CanaryFlags, statuses: ReleaseStatus[]): void {
  process.stdout.write(flags.json ? `${JSON.stringify(statuses, null, 2)}\n` : `${statuses.map(describeStatus).join('\n')}\n`);
}

function actionCommand(verb: 'promote' | 'rollback' | 'retry', description: string): Command {
  return withCommon(new Command(verb).description(description))
    .requiredOption('--model <name>', 'the model')
    .option('--reason <text>', 'why, for the release history')
    .action(
      action(async (flags: ActionFlags) => {
        const url = `${adminUrl(flags)}/admin/releases/${encodeURIComponent(flags.model)}/${verb}`;
        const status = (await call(url, 'POST', flags.reason ? { reason: flags.reason } : {})) as ReleaseStatus;
        print(flags, [status]);
      }),
    );
}

export function canaryCommand(): Command {
  return new Command('canary')
    .description("the local gateway's releases: status, and promote, rollback or retry by hand")
    .addCommand(
      withCommon(new Command('status').description('every model: live version, traffic split, deployment in progress, last release'))
        .option('--model <name>', 'only this model')
        .action(
          action(async (flags: CanaryFlags & { model?: string }) => {
            const { models } = (await call(`${adminUrl(flags)}/admin/releases`, 'GET')) as { models: ReleaseStatus[] };
            const shown = flags.model ? models.filter((m) => m.model === flags.model) : models;
            if (flags.model && shown.length === 0) throw new Error(`model '${flags.model}' is not served; models: ${models.map((m) => m.model).join(', ')}`);
            print(flags, shown);
          }),
        ),
    )
    .addCommand(actionCommand('promote', 'end the deployment in progress now, with the new version live'))
    .addCommand(actionCommand('rollback', 'end the deployment in progress now, with all traffic on the old version'))
    .addCommand(actionCommand('retry', 'release a rolled-back or refused version again (golden check first)'));
}
