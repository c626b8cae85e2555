import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from './check.js';
import { formatFinding } from './check.js';
import { sdkCommandsInSource } from '../sdk-commands.js';
import { modelsAvailable, MODELS_DIR, PACKAGE_SERVICE } from './models.js';

/**
 * `npm run check:aws-models [-- --json] [vitest filters…]`: run the test suite with every AWS
 * request and fake-cloud answer checked against AWS's own API models (../shared/aws-models),
 * then sum up. `--json` prints one JSON line on stdout (the tests' own output goes to stderr):
 * `{"requests","operations","violations","fakeAnswerViolations","paginatedOperations","unpaginatedCalls"}`.
 * Exits 1 on any violation, any failed test, or (on a whole-suite run) a command in src/
 * that no test sent.
 */

interface FileReport {
  requests: number;
  answers: number;
  operations: string[];
  paginated: string[];
  findings: Finding[];
}

const ROOT = join(import.meta.dirname, '..', '..', '..');

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const filters = args.filter((a) => a !== '--json');
  if (!modelsAvailable()) {
    console.error(`check:aws-models: AWS's API models are not at ${MODELS_DIR}`);
    return 1;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cloudmart-aws-models-'));
  try {
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...filters],
      {
        cwd: ROOT,
        stdio: ['ignore', json ? 2 : 'inherit', 'inherit'],
        env: { ...process.env, CLOUDMART_AWS_MODELS_REPORT: dir },
      },
    );
    const reports = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as FileReport);
    const operations = new Set(reports.flatMap((r) => r.operations));
    const paginated = new Set(reports.flatMap((r) => r.paginated));
    const distinct = (kinds: Finding['kind'][]) =>
      [
        ...new Set(
          reports.flatMap((r) =>
            r.findings.filter((f) => kinds.includes(f.kind)).map(formatFinding),
          ),
        ),
      ].sort();
    const requestFindings = distinct(['request', 'unknown-operation']);
    const answerFindings = distinct(['answer']);
    const unpaginated = distinct(['unpaginated']);
    const summary = {
      requests: reports.reduce((n, r) => n + r.requests, 0),
      operations: operations.size,
      violations: requestFindings.length,
      fakeAnswerViolations: answerFindings.length,
      paginatedOperations: paginated.size,
      unpaginatedCalls: unpaginated.length,
    };
    // On a whole-suite run every command src/ names must have been sent by some test.
    let unchecked: string[] = [];
    if (filters.length === 0) {
      const uses = await sdkCommandsInSource(Object.keys(PACKAGE_SERVICE));
      const sent = (u: (typeof uses)[number]) =>
        u.packages.some((p) => operations.has(`${PACKAGE_SERVICE[p]}.${u.command}`));
      unchecked = [...new Set(uses.filter((u) => !sent(u)).map((u) => `${u.command} (${u.file})`))];
    }
    const out = (line: string) => (json ? console.error(line) : console.log(line));
    for (const f of [...requestFindings, ...answerFindings, ...unpaginated]) out(`  ${f}`);
    for (const c of unchecked) out(`  never sent by any test: ${c}`);
    if (json) console.log(JSON.stringify(summary));
    else
      console.log(
        `AWS models: ${summary.requests} requests over ${summary.operations} operations checked; ` +
          `${summary.violations} request violations, ${summary.fakeAnswerViolations} fake-answer violations, ` +
          `${summary.unpaginatedCalls} unpaginated calls (${summary.paginatedOperations} paginated operations called)`,
      );
    const failed =
      run.status !== 0 ||
      summary.violations + summary.fakeAnswerViolations + summary.unpaginatedCalls > 0 ||
      unchecked.length > 0;
    return failed ? 1 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
