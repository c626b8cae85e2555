import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentedStates, MODEL_FOLDER, PACKAGE_SERVICE } from '../helpers/aws-models/models.js';

/**
 * Every state a step waits for or compares with must be one AWS names (in its model's enums,
 * its waiters' acceptors, or the member's own documentation), spelled as AWS sends it.
 * The comparisons are read from src/: `x.Status === 'available'`, `state !== 'deleted'` where
 * `const state = nat.State`, `['a', 'b'].includes(x.State)`, and sets of states used with `.has`.
 */

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * States AWS documents outside the model, where the model's own documentation of the member
 * points: RDS DB instance statuses ("For information about DB instance statuses, see Viewing
 * DB instance status", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html),
 * and the automated-backup replication states of cross-Region backups, which the API sends in
 * lower case (`"Status": "replicating"`,
 * https://docs.aws.amazon.com/cli/latest/reference/rds/stop-db-instance-automated-backups-replication.html)
 * and the console shows capitalised ("Replicating", "Pending").
 */
const DOCUMENTED_ELSEWHERE: Record<string, string[]> = {
  'rds.DBInstanceStatus': [
    'available',
    'backing-up',
    'configuring-enhanced-monitoring',
    'configuring-iam-database-auth',
    'configuring-log-exports',
    'converting-to-vpc',
    'creating',
    'delete-precheck',
    'deleting',
    'failed',
    'inaccessible-encryption-credentials',
    'inaccessible-encryption-credentials-recoverable',
    'incompatible-create',
    'incompatible-network',
    'incompatible-option-group',
    'incompatible-parameters',
    'incompatible-restore',
    'insufficient-capacity',
    'maintenance',
    'modifying',
    'moving-to-vpc',
    'rebooting',
    'resetting-master-credentials',
    'renaming',
    'restore-error',
    'starting',
    'stopped',
    'stopping',
    'storage-config-upgrade',
    'storage-full',
    'storage-optimization',
    'upgrading',
  ],
  'rds.Status': [
    'active',
    'retained',
    'creating',
    'pending',
    'replicating',
    'Pending',
    'Replicating',
  ],
};

const STATE_MEMBER = /^(?:[A-Z]\w*)?(?:State|Status|Code)$/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Comparison {
  file: string;
  member: string;
  value: string;
}

/** The last state member an expression reads: `x.Status`, or an EC2 instance's `State.Name`. */
function lastMember(expr: string): string | undefined {
  const members = [...expr.matchAll(/\.(\w+)/g)]
    .filter(
      (m) =>
        STATE_MEMBER.test(m[1]!) || (m[1] === 'Name' && /State\??$/.test(expr.slice(0, m.index))),
    )
    .map((m) => m[1]!);
  return members[members.length - 1];
}

const literals = (list: string) => [...list.matchAll(/'([^']+)'/g)].map((m) => m[1]!);

/** The state comparisons of one source file, and the placeholders it assigns itself. */
export function comparisons(file: string, text: string): { found: Comparison[]; own: Set<string> } {
  const found: Comparison[] = [];
  const own = new Set<string>();
  // Functions that return a state member (`replicationStatus(b)` reads `b.Status`).
  const functions = new Map<string, string>();
  for (const m of text.matchAll(/function\s+(\w+)\s*\([^)]*\)[^{]*\{\s*return\s+([^;]*);/g)) {
    const member = lastMember(m[2]!);
    if (member) functions.set(m[1]!, member);
  }
  // Aliases by position: a name may be declared again in another function for another member
  // (or for no state at all, which hides the earlier one).
  const aliases: Array<{ at: number; name: string; member: string | undefined }> = [];
  for (const m of text.matchAll(/(?:const|let)\s+(\w+)\s*=\s*([^;]*);/g)) {
    const rhs = m[2]!;
    const call = /^\s*(?:await\s+)?(\w+)\(/.exec(rhs)?.[1];
    const member = (call && functions.get(call)) ?? lastMember(rhs);
    aliases.push({ at: m.index, name: m[1]!, member });
    const placeholder = /\?\?\s*'([^']*)'\s*$/.exec(rhs)?.[1];
    if (member && placeholder !== undefined) own.add(placeholder);
  }
  // `x.State` or an alias of one, in an expression such as `b.Status ?? ''` or `String(a.State)`.
  const memberOf = (expr: string, at: number): string | undefined => {
    const direct = lastMember(expr);
    if (direct) return direct;
    const call = /^\s*(\w+)\(/.exec(expr)?.[1];
    if (call && functions.has(call)) return functions.get(call);
    const name = /\b(\w+)\b/.exec(expr.replace(/String\(/, ''))?.[1];
    return aliases.filter((a) => a.name === name && a.at < at).pop()?.member;
  };
  const add = (member: string | undefined, values: string[]) => {
    if (member) for (const value of values) found.push({ file, member, value });
  };
  for (const m of text.matchAll(/([\w?.\])]+)\s*[!=]==\s*'([^']+)'/g))
    add(memberOf(m[1]!, m.index), [m[2]!]);
  for (const m of text.matchAll(/'([^']+)'\s*[!=]==\s*([\w?.]+)/g))
    add(memberOf(m[2]!, m.index), [m[1]!]);
  for (const m of text.matchAll(/\[((?:\s*'[^']+',?)+)\s*\]\.includes\(([^)]*\)?)\)/g))
    add(memberOf(m[2]!, m.index), literals(m[1]!));
  const lists = new Map<string, string[]>();
  for (const m of text.matchAll(
    /const\s+(\w+)\s*(?::[^=]+)?=\s*(?:new Set\()?\[((?:\s*'[^']+',?)+)\s*\]/g,
  ))
    lists.set(m[1]!, literals(m[2]!));
  for (const m of text.matchAll(/\b(\w+)\.(?:has|includes)\(([^()]*(?:\([^()]*\))?[^()]*)\)/g)) {
    const values = lists.get(m[1]!);
    if (values) add(memberOf(m[2]!, m.index), values);
  }
  return { found, own };
}

function servicesOf(text: string): string[] {
  const named = [...text.matchAll(/@aws-sdk\/client-([a-z0-9-]+)/g)]
    .map((m) => PACKAGE_SERVICE[m[1]!])
    .filter((s): s is string => s !== undefined);
  return named.length > 0 ? [...new Set(named)] : Object.keys(MODEL_FOLDER);
}

function known(services: string[], member: string): Set<string> {
  const out = new Set<string>();
  for (const s of services) {
    for (const v of documentedStates(s, member)) out.add(v);
    for (const v of DOCUMENTED_ELSEWHERE[`${s}.${member}`] ?? []) out.add(v);
  }
  return out;
}

describe('states compared in src/ are the ones AWS names, in its spelling', () => {
  const files = sources(join(ROOT, 'src'));

  it('reads the comparisons (the scan itself sees the usual forms)', () => {
    const { found, own } = comparisons(
      'x.ts',
      [
        "const state = nat.State ?? 'pending';",
        "if (state === 'available') {}",
        "if (db.DBInstanceStatus !== 'deleting') {}",
        "['available', 'attached'].includes(String(a.State));",
        "const LIVE = new Set(['replicating', 'pending']);",
        "LIVE.has(b.Status ?? '');",
      ].join('\n'),
    );
    expect(found.map((c) => `${c.member}=${c.value}`).sort()).toEqual(
      [
        'State=available',
        'DBInstanceStatus=deleting',
        'State=available',
        'State=attached',
        'Status=replicating',
        'Status=pending',
      ].sort(),
    );
    expect([...own]).toEqual(['pending']);
  });

  it('finds no state AWS does not name', () => {
    const unknown: string[] = [];
    let checked = 0;
    for (const path of files) {
      const text = readFileSync(path, 'utf8');
      const { found, own } = comparisons(relative(ROOT, path), text);
      const services = servicesOf(text);
      for (const c of found) {
        if (own.has(c.value)) continue; // the file's own placeholder ("missing", "pending")
        checked++;
        const names = known(services, c.member);
        if (names.size === 0) continue; // not an AWS state member (cloudmart's own `status`)
        if (!names.has(c.value)) unknown.push(`${c.file}: ${c.member} '${c.value}'`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(unknown).toEqual([]);
  });
});
