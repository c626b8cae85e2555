/**
 * Start-up cost of the built CLI: `node bin/cloudmart.js --help` and `… plan` against the
 * repository's example config, each ÷ a bare `node -e ''`, median of several runs. Runs are
 * interleaved (node, help, plan, node, help, plan, …) so drift on the machine hits all three.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, round } from './critical-path.js';

export interface StartupResult {
  node_ms: number;
  help_ms: number;
  plan_ms: number;
  help_vs_node: number;
  plan_vs_node: number;
  runs: number;
  notes: string[];
}

/** A clean environment for the children: no loader of the bench (tsx) leaks into them. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return env;
}

function timeRun(root: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) {
    throw new Error(
      `node ${args.join(' ')} exited ${String(r.status)}: ${r.stderr.toString().slice(0, 500)}`,
    );
  }
  return ms;
}

/** `npm run build` (tsc). Type errors elsewhere in a shared checkout still emit JavaScript. */
export function build(root: string): { ok: boolean; note?: string } {
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  const built = existsSync(join(root, 'dist/cli/main.js'));
  const first = `${r.stdout}${r.stderr}`.split('\n').find((l) => l.includes('error')) ?? '';
  return {
    ok: built,
    note: `npm run build exited ${String(r.status)}${first ? ` (${first.trim()})` : ''}; ${built ? 'measured the JavaScript tsc emitted anyway' : 'no dist/cli/main.js to measure'}`,
  };
}

export function measureStartup(root: string, runs = 9): StartupResult {
  const env = childEnv();
  const dir = mkdtempSync(join(tmpdir(), 'cloudmart-bench-'));
  const state = join(dir, 'bench.state.json');
  const cases = {
    node: ['-e', ''],
    help: ['bin/cloudmart.js', '--help'],
    plan: ['bin/cloudmart.js', 'plan', '--config', 'cloudmart.config.yaml', '--state', state],
  };
  const times: Record<keyof typeof cases, number[]> = { node: [], help: [], plan: [] };
  try {
    // One warm-up of each (file cache), not counted.
    for (const args of Object.values(cases)) timeRun(root, args, env);
    for (let i = 0; i < runs; i++) {
      for (const [name, args] of Object.entries(cases) as Array<[keyof typeof cases, string[]]>) {
        times[name].push(timeRun(root, args, env));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const node = median(times.node);
  const help = median(times.help);
  const plan = median(times.plan);
  return {
    node_ms: round(node, 1),
    help_ms: round(help, 1),
    plan_ms: round(plan, 1),
    help_vs_node: round(help / node, 2),
    plan_vs_node: round(plan / node, 2),
    runs,
    notes: [],
  };
}
