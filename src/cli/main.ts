import { Command, InvalidArgumentError, Option } from 'commander';
import { CloudmartError, ConfigError, formatIssue, isUnreadableFile } from '../errors.js';
import { processIo, type Io } from './io.js';
import type { GlobalOptions } from './runtime.js';

/**
 * Parse `1,2` / `3` into phases: each a whole number from 1 to 5 (repeats count once). A
 * repeated --phase adds to the earlier ones.
 */
function phases(value: string, previous: number[] = []): number[] {
  const list = value.split(',').map((v) => v.trim());
  if (list.some((v) => !/^[1-5]$/.test(v))) {
    throw new InvalidArgumentError('phases are numbers from 1 to 5, e.g. 1 or 1,2');
  }
  return [...new Set([...previous, ...list.map(Number)])].sort((a, b) => a - b);
}

/** `--to n`: one phase number from 1 to 5. */
function lastPhase(value: string): number {
  const v = value.trim();
  if (!/^[1-5]$/.test(v)) {
    throw new InvalidArgumentError(
      'one phase number from 1 to 5 (--to 3 means phases 1 to 3; use --phase for a list)',
    );
  }
  return Number(v);
}

function positiveInt(value: string): number {
  const v = value.trim();
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

/** `--lang en|ko`: the language of the hand-in report. */
function reportLang(value: string): 'en' | 'ko' {
  const v = value.trim().toLowerCase();
  if (v !== 'en' && v !== 'ko') throw new InvalidArgumentError('en (English) or ko (Korean)');
  return v;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * The program. Every command's module is imported only when that command runs, so
 * `cloudmart --help` loads commander and nothing else.
 */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('cloudmart')
    .description(
      'Provision, verify and tear down the production CloudMart stack on AWS (VPC over two AZs, ALB + Auto Scaling, RDS Multi-AZ, Redis, S3 + CloudFront + WAF, monitoring, backup, audit).',
    )
    .version('0.1.0')
    .option('-c, --config <file>', 'config file', 'cloudmart.config.yaml')
    .option('--region <region>', 'AWS region (beats the config file and AWS_REGION)')
    .option('--profile <name>', 'AWS profile (default: AWS_PROFILE or the default chain)')
    .option(
      '--state <file>',
      "state file (default: .cloudmart/<stack>.state.json next to the config, or the config's state: block), or s3://bucket/key",
    )
    .option('--debug', 'show stack traces and AWS request ids on errors')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError('(run "cloudmart --help" for the commands)')
    .exitOverride();

  const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals();
  const run =
    <A extends unknown[]>(load: () => Promise<(io: Io, ...args: A) => Promise<number>>) =>
    async (...args: A) => {
      const fn = await load();
      setExit(await fn(io, ...args));
    };

  program
    .command('init')
    .description(
      'Create cloudmart.config.yaml with a short wizard (asks only what has no safe default)',
    )
    .option('-y, --yes', 'accept the defaults without asking (needs --email)')
    .option('--email <address>', 'alert email address')
    .option('--force', 'overwrite an existing config without asking')
    .option(
      '--remote-state',
      'keep the state in S3 for a team: create the state bucket (versioned, encrypted, private, HTTPS only) and add the state: block to the config (an existing config is kept)',
    )
    .option(
      '--state-bucket <name>',
      'with --remote-state: the bucket (default <stack>-state-<account>-<region>)',
    )
    .action(run(async () => (await import('./commands/init.js')).initCommand));

  const state = program
    .command('state')
    .description('Move the state between the local file and S3 (team use)');
  state
    .command('push')
    .description(
      "Copy the local state file to the config's S3 state (refuses to drop work the S3 state holds without --force)",
    )
    .option(
      '--force',
      'replace the S3 state even if it holds work (runs, results) the local file does not',
    )
    .option('--force-unlock', 'take the state locks even if another run seems to hold them')
    .action(run(async () => (await import('./commands/state.js')).statePushCommand));
  state
    .command('pull')
    .description(
      'Copy the S3 state into the local state file (refuses to drop work the local file holds without --force)',
    )
    .option(
      '--force',
      'replace the local file even if it holds work (runs, results) the S3 state does not',
    )
    .option('--force-unlock', 'take the state locks even if another run seems to hold them')
    .action(run(async () => (await import('./commands/state.js')).statePullCommand));

  program
    .command('plan')
    .description(
      'Show what "up" would build, phase by phase (offline: no credentials needed, except to read a state kept in S3)',
    )
    .option('--json', 'print one JSON object')
    .option('--accept-cost', 'do not refuse a stack over the budget or one cloudmart cannot price')
    .action(run(async () => (await import('./commands/plan.js')).planCommand));

  program
    .command('up')
    .description(
      'Build the stack phase by phase (1 foundation, 2 monitoring, 3 backup, 4 security, 5 validation); resumable',
    )
    .option('--phase <list>', 'only these phases, e.g. 1 or 2,3', phases)
    .option('--to <n>', 'phases 1 to n', lastPhase)
    .option('--step <id>', 'only this step (repeatable)', collect)
    .option('-y, --yes', 'do not ask which phases to run')
    .option('--drills', 'with --yes: also run the failure drills in Phase 5')
    .option('--concurrency <n>', 'AWS operations in flight at once', positiveInt, 8)
    .option('--force-unlock', 'take the state lock even if another run seems to hold it')
    .option('--json', 'print engine events as JSON lines')
    .option('--accept-cost', 'build even when the estimate is over the budget or cannot be priced')
    .action(run(async () => (await import('./commands/up.js')).upCommand));

  program
    .command('status')
    .description(
      'Show every step with its status and timings, and whether the alert email is confirmed',
    )
    .option('--json', 'print one JSON object')
    .option('--offline', 'read only the state file (skip the AWS lookup of the alert subscription)')
    .action(run(async () => (await import('./commands/status.js')).statusCommand));

  program
    .command('verify')
    .description('Check the live stack against the success criteria and score it (read-only)')
    .option('--json', 'print one JSON object; exit 1 when a required check fails')
    .option(
      '--report <dir>',
      'also write the hand-in report into this folder: index.html, report.md and the pictures (created if missing)',
    )
    .option(
      '--lang <lang>',
      'language of the report: en or ko (the challenge is in Korean)',
      reportLang,
      'en',
    )
    .option('--phase <list>', 'only the steps of these phases', phases)
    .action(run(async () => (await import('./commands/verify.js')).verifyCommand));

  program
    .command('destroy')
    .description(
      "Remove everything in the course challenge's cleanup order, then sweep for anything still tagged with the stack",
    )
    .option('-y, --yes', 'do not ask for the stack name')
    .option('--dry-run', 'list what would be deleted, in order, and stop')
    .option('--concurrency <n>', 'AWS operations in flight at once', positiveInt, 8)
    .option('--force-unlock', 'take the state lock even if another run seems to hold it')
    .option('--json', 'print engine events as JSON lines')
    .option(
      '--report <dir>',
      'add the cleanup receipt (what was removed, when, what was kept and why) to the hand-in report in this folder',
    )
    .option(
      '--lang <lang>',
      'language of a new report: en or ko (an existing report keeps its own)',
      reportLang,
      'en',
    )
    .action(run(async () => (await import('./commands/destroy.js')).destroyCommand));

  program
    .command('load')
    .description(
      'Load test like the course challenge\'s "ab -n 1000 -c 100 http://<ALB>/api/products"; prints rps, latency percentiles and a histogram, records the result for verify',
    )
    .option('--requests <n>', 'requests to send (ab -n)', positiveInt, 1000)
    .option('--concurrency <n>', 'concurrent connections (ab -c)', positiveInt, 100)
    .option(
      '--keep-alive',
      'reuse connections (ab -k); by default each request opens its own connection, as ab -n -c does',
    )
    .option(
      '--path <path>',
      'path to request on the stack (or on a --url without a path)',
      '/api/products',
    )
    .option(
      '--duration <seconds>',
      'run for this long instead of a number of requests',
      positiveInt,
    )
    .option('--url <url>', "test this URL instead of the stack's load balancer (no AWS needed)")
    .option(
      '--users <n>',
      'ramp up to this many concurrent connections (the challenge: 1000)',
      positiveInt,
    )
    .option('--watch-scaling', 'afterwards, follow the Auto Scaling group for up to 10 minutes')
    .option(
      '--record',
      "with --url: record the result for verify even if it is not the stack's ALB",
    )
    .option('--json', 'print one JSON object with the figures')
    .option(
      '--force-unlock',
      'take the state lock to record the result even if another run seems to hold it',
    )
    .action(run(async () => (await import('./commands/load.js')).loadCommand));

  program
    .command('drill')
    .description(
      'Failure drills: instance (terminate one instance), rds-failover (forced Multi-AZ failover), az (simulated AZ loss); measures the recovery time',
    )
    .argument('<name>', 'instance | rds-failover | az')
    .option('--dry-run', 'only check the stack and say what the drill would do')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--instance-id <id>', 'instance drill: terminate this instance')
    .option('--json', 'print one JSON object with the figures')
    .option('--force-unlock', 'take the state lock even if another run seems to hold it')
    .action(run(async () => (await import('./commands/drill.js')).drillCommand));

  program
    .command('cost')
    .description(
      'Estimate what the configured stack costs against the budget (offline; exit 1 when over budget)',
    )
    .option(
      '--hours <h>',
      "how long the stack stays up (default: budget.hours, the challenge's 50 minutes)",
      (v) => {
        const n = Number(v);
        if (!(n > 0)) throw new InvalidArgumentError('a positive number of hours');
        return n;
      },
    )
    .option('--live', 'refine instance prices with the AWS Price List API (needs credentials)')
    .option('--json', 'print one JSON object')
    .action(run(async () => (await import('./commands/cost.js')).costCommand));

  program
    .command('schema')
    .description('Print the JSON Schema of cloudmart.config.yaml (for editor completion)')
    .option('-o, --output <file>', 'write it to a file instead')
    .action(run(async () => (await import('./commands/schema.js')).schemaCommand));

  program
    .command('policy')
    .description(
      'Print the least-privilege IAM policies for the person who runs cloudmart: scoped to the configured stack, customer managed, each within the 6,144-character limit',
    )
    .option('--json', 'print one JSON document: the policies and what each service is scoped to')
    .option('-o, --output-dir <dir>', 'write one <name>.json per policy into this folder')
    .option(
      '--boundary',
      "print only the permissions boundary of the stack's roles, for an administrator to create once",
    )
    .action(run(async () => (await import('./commands/policy.js')).policyCommand));

  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  void globals;
  return program;
}

/** Entry point used by bin/cloudmart.js. Returns the exit code; prints errors softly. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (c) => (exitCode = c));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    return reportError(io, e, argv.includes('--debug'));
  }
}

export function reportError(io: Io, e: unknown, debug: boolean): number {
  const err = e as { code?: string; exitCode?: number };
  if (typeof err.code === 'string' && err.code.startsWith('commander.')) {
    // commander already printed its message (help, version, or a usage error).
    if (
      err.code === 'commander.helpDisplayed' ||
      err.code === 'commander.version' ||
      err.code === 'commander.help'
    )
      return 0;
    return 2;
  }
  if (e instanceof ConfigError) {
    const unreadable = isUnreadableFile(e.issues);
    io.err(
      `✖ ${unreadable ? 'Cannot use the config' : 'Config is invalid'}${e.file ? ` (${e.file})` : ''}:`,
    );
    for (const issue of e.issues) io.err(`  - ${formatIssue(issue)}`);
    if (e.hint) io.err(`→ ${e.hint}`);
    return 2;
  }
  if (e instanceof CloudmartError) {
    io.err(`✖ ${e.message}`);
    if (e.hint) io.err(`→ ${e.hint}`);
    if (debug && e.cause instanceof Error) io.err(e.cause.stack ?? e.cause.message);
    return e.exitCode;
  }
  io.err(`✖ Unexpected error: ${(e as Error)?.message ?? String(e)}`);
  if (debug) io.err(String((e as Error)?.stack));
  else io.err('→ Run again with --debug for details, and please report it.');
  return 1;
}
