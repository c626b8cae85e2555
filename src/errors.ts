/**
 * One error family for the whole tool. The message is safe to print ("what happened: why"),
 * `hint` names the next thing to run, and only the launcher turns these into exit codes.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'STATE_CORRUPT'
  | 'STATE_VERSION'
  | 'STATE_LOCKED'
  | 'STATE_CONFLICT'
  | 'CREDENTIALS'
  | 'ACCESS_DENIED'
  | 'ACCOUNT_NOT_VERIFIED'
  | 'QUOTA'
  | 'THROTTLED'
  | 'AWS_ERROR'
  | 'AWS_UNREACHABLE'
  | 'TIMEOUT'
  | 'INTERRUPTED'
  | 'STEP_FAILED'
  | 'USAGE'
  | 'NOT_READY'
  | 'INTERNAL';

export class CloudmartError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  /** Exit code the launcher uses: 2 for bad input, 130 for Ctrl-C, 1 otherwise. */
  readonly exitCode: number;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; cause?: unknown; exitCode?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'CloudmartError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

export interface ConfigIssue {
  /** Dotted path into the config, e.g. `network.publicSubnets.1`. */
  path: string;
  message: string;
  /** 1-based line in the YAML file, when known. */
  line?: number;
}

/** Bad input: every problem at once, each with its path and line. Exit code 2. */
export class ConfigError extends CloudmartError {
  readonly issues: ConfigIssue[];
  readonly file: string | undefined;

  constructor(issues: ConfigIssue[], file?: string) {
    const where = file ? ` in ${file}` : '';
    const lines = issues.map((i) => `  - ${formatIssue(i)}`).join('\n');
    super(
      'CONFIG_INVALID',
      `Config is invalid${where}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${lines}`,
      {
        exitCode: 2,
        hint: isUnreadableFile(issues)
          ? 'Nothing was sent to AWS. Pass --config <file> to use another file.'
          : 'Fix the fields above; nothing was sent to AWS.',
      },
    );
    this.name = 'ConfigError';
    this.issues = issues;
    this.file = file;
  }
}

/** The file itself could not be read (missing, a directory, no permission): no field to fix. */
export function isUnreadableFile(issues: ConfigIssue[]): boolean {
  return (
    issues.length === 1 && /^(file not found|cannot read the file)/.test(issues[0]?.message ?? '')
  );
}

export function formatIssue(issue: ConfigIssue): string {
  const path = issue.path === '' ? '(root)' : issue.path;
  return `${path}: ${issue.message}${issue.line !== undefined ? ` (line ${issue.line})` : ''}`;
}

/** The user pressed Ctrl-C (or the run was aborted): state is saved, exit 130. */
export class InterruptedError extends CloudmartError {
  constructor(message = 'Interrupted: the run was stopped before it finished') {
    super('INTERRUPTED', message, {
      exitCode: 130,
      hint: 'Run the same command again to resume where it stopped.',
    });
    this.name = 'InterruptedError';
  }
}

export function isCloudmartError(e: unknown): e is CloudmartError {
  return e instanceof CloudmartError;
}
