import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

export interface SdkCommandUse {
  /** The source file, relative to the repository. */
  file: string;
  /** `CreateVpc` for `CreateVpcCommand`. */
  command: string;
  /** The client packages (`ec2`, `auto-scaling`, …) that may send it: usually one. */
  packages: string[];
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every `XxxCommand` of an @aws-sdk client package named anywhere in src/, for the tests that
 * must cover all of them (the fake cloud, the operator policy). `packages` lists the
 * `@aws-sdk/client-<name>` packages to consider; the packages a file names (type imports
 * included) decide which service a command belongs to.
 */
export async function sdkCommandsInSource(packages: string[]): Promise<SdkCommandUse[]> {
  const modules = Object.fromEntries(
    await Promise.all(
      packages.map(
        async (p) =>
          [p, (await import(`@aws-sdk/client-${p}`)) as Record<string, unknown>] as const,
      ),
    ),
  );
  const found: SdkCommandUse[] = [];
  for (const file of sources(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    const named = [
      ...new Set([...text.matchAll(/@aws-sdk\/client-([a-z0-9-]+)/g)].map((m) => m[1]!)),
    ];
    // `paginateListRoles` sends ListRolesCommand, page after page.
    const commands = new Set([
      ...[...text.matchAll(/\b([A-Z][A-Za-z0-9]+)Command\b/g)].map((m) => m[1]!),
      ...[...text.matchAll(/\bpaginate([A-Z][A-Za-z0-9]+)\b/g)].map((m) => m[1]!),
    ]);
    for (const command of commands) {
      const exports = (p: string) => modules[p]?.[`${command}Command`] !== undefined;
      let owners = named.filter((p) => p in modules && exports(p));
      if (owners.length === 0) owners = packages.filter(exports);
      if (owners.length === 0) continue; // not an SDK command
      found.push({ file: relative(ROOT, file), command, packages: owners });
    }
  }
  return found;
}
