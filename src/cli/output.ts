import { constants } from 'node:fs';
import { access, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CloudmartError } from '../errors.js';

/** Why a path the user chose cannot be written, by error code; the user's to fix, not a bug. */
const REASONS: Record<string, (path: string) => string> = {
  ENOENT: (p) => `the folder ${dirname(p)} does not exist`,
  ENOTDIR: () => 'a part of that path is a file, not a folder',
  EISDIR: () => 'it is a folder',
  EEXIST: () => 'it exists and is not a folder',
  EACCES: () => 'permission denied',
  EPERM: () => 'permission denied',
  EROFS: () => 'the file system is read-only',
};

/**
 * A usage error (exit 2) naming the path, for a file-system error on an output path the user
 * gave; undefined for any other error (that one stays unexpected).
 */
export function outputPathError(
  e: unknown,
  path: string,
  what: string,
): CloudmartError | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : REASONS[code];
  if (!reason) return undefined;
  return new CloudmartError('USAGE', `Cannot write ${what} to ${path}: ${reason(path)}`, {
    exitCode: 2,
    cause: e,
    hint: 'Choose another path, or create the folder first.',
  });
}

/** writeFile, with the user's path mistakes as usage errors. */
export async function writeOutputFile(path: string, text: string, what: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (e) {
    throw outputPathError(e, path, what) ?? e;
  }
}

/** mkdir -p, with the user's path mistakes as usage errors. */
export async function makeOutputDir(path: string, what: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (e) {
    throw outputPathError(e, path, what) ?? e;
  }
}

/**
 * Check up front that `path` can be written (it is not a folder; its folder exists and is
 * writable), so a long run does not end on a path mistake. Throws the same usage errors.
 */
export async function assertWritable(path: string, what: string): Promise<void> {
  const fail = (e: unknown): never => {
    throw outputPathError(e, path, what) ?? e;
  };
  const code = (c: string) => Object.assign(new Error(c), { code: c });
  const target = await stat(path).catch(() => undefined);
  if (target?.isDirectory()) fail(code('EISDIR'));
  const parent = await stat(dirname(path)).catch(fail);
  if (!parent.isDirectory()) fail(code('ENOTDIR'));
  await access(target ? path : dirname(path), constants.W_OK).catch(fail);
}
