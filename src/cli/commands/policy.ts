import { join } from 'node:path';
import {
  MANAGED_POLICIES_PER_PRINCIPAL,
  MANAGED_POLICY_MAX_CHARS,
  operatorPolicies,
  scopeReport,
  type NamedPolicy,
  type ServiceScopeReport,
} from '../../engine/policy.js';
import { operatorScope } from '../../steps/permissions.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import { makeOutputDir, writeOutputFile } from '../output.js';
import { readConfig, remoteState, type GlobalOptions } from '../runtime.js';

export interface PolicyOptions {
  /** Print one JSON document: `{ stack, policies: [{ name, services, characters, document }], scope }`. */
  json?: boolean;
  /** Write one `<name>.json` per policy into this directory. */
  outputDir?: string;
}

const n = (x: number) => x.toLocaleString('en-US');

function howToAttach(io: Io, policies: NamedPolicy[], dir: string): void {
  io.err(
    `cloudmart needs ${policies.length} customer managed IAM polic${policies.length === 1 ? 'y' : 'ies'}: ` +
      `IAM takes at most ${n(MANAGED_POLICY_MAX_CHARS)} characters per managed policy (whitespace not counted), so the statements are split. ` +
      `Create each one and attach all of them to the IAM user or role that runs cloudmart (at most ${MANAGED_POLICIES_PER_PRINCIPAL} managed policies per user or role):`,
  );
  for (const p of policies) {
    const file = join(dir, `${p.name}.json`);
    io.err(
      `  aws iam create-policy --policy-name ${p.name} --policy-document file://${file}\n` +
        `  aws iam attach-user-policy --user-name <user> --policy-arn arn:aws:iam::<account-id>:policy/${p.name}` +
        `   # or attach-role-policy --role-name <role>`,
    );
  }
}

/** What the policy limits to the stack, and what IAM does not let it limit, per service. */
function describeScope(io: Io, stack: string, report: ServiceScopeReport[]): void {
  io.err(
    `These policies let their holder work on stack "${stack}" only: each action is limited to the stack's resources as narrowly as IAM allows for it.`,
  );
  for (const r of report) {
    const lines: string[] = [];
    if (r.scoped.length > 0) lines.push(`only ${r.scoped.join('; ')}`);
    if (r.aws.length > 0) lines.push(`reads AWS's own ${r.aws.join('; ')}`);
    if (r.wholeType.length > 0)
      lines.push(`cannot be limited to the stack (any in the account): ${r.wholeType.join('; ')}`);
    if (r.anyResource.length > 0)
      lines.push(
        `on any resource, because IAM has no resource-level permission for them: ${r.anyResource.join(', ')}`,
      );
    io.err(`  ${r.service}:\n${lines.map((l) => `    - ${l}`).join('\n')}`);
  }
}

/**
 * `policy`: the operator's least-privilege IAM policy for the configured stack, from the actions
 * the steps declare, scoped to the stack's resources, as managed policies small enough for IAM.
 */
export async function policyCommand(
  io: Io,
  opts: PolicyOptions = {},
  cmd?: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd?.optsWithGlobals() ?? { config: 'cloudmart.config.yaml' };
  const config = await readConfig(g, opts.json ? undefined : io);
  const scope = operatorScope(config, remoteState(g, config));
  const policies = operatorPolicies(registry, scope);
  const report = scopeReport(registry, scope);
  if (opts.json) {
    io.out(JSON.stringify({ stack: config.stack, policies, scope: report }, null, 2));
    return 0;
  }
  describeScope(io, config.stack, report);
  if (opts.outputDir) {
    await makeOutputDir(opts.outputDir, 'the policy folder');
    for (const p of policies) {
      await writeOutputFile(
        join(opts.outputDir, `${p.name}.json`),
        JSON.stringify(p.document, null, 2) + '\n',
        `the policy ${p.name}`,
      );
    }
    io.err(`Wrote ${policies.map((p) => `${p.name}.json`).join(', ')} to ${opts.outputDir}.`);
    howToAttach(io, policies, opts.outputDir);
    return 0;
  }
  howToAttach(io, policies, '.');
  for (const p of policies)
    io.err(
      `  ${p.name}: ${p.services.join(', ')} (${n(p.characters)} of ${n(MANAGED_POLICY_MAX_CHARS)} characters)`,
    );
  // stdout is one valid JSON document, whatever the number of policies: the policy itself
  // when there is one, else an object of policies by name.
  if (policies.length === 1) {
    io.err('The policy document follows on stdout (save it as the file named above).');
    io.out(JSON.stringify(policies[0]!.document, null, 2));
  } else {
    io.err(
      `Run "cloudmart policy --output-dir <dir>" to write one file per policy; stdout has one JSON object with the ${policies.length} documents by name.`,
    );
    io.out(JSON.stringify(Object.fromEntries(policies.map((p) => [p.name, p.document])), null, 2));
  }
  return 0;
}
