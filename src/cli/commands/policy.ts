import { join } from 'node:path';
import {
  MANAGED_POLICIES_PER_PRINCIPAL,
  MANAGED_POLICY_MAX_CHARS,
  operatorPolicies,
  type NamedPolicy,
} from '../../engine/policy.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import { makeOutputDir, writeOutputFile } from '../output.js';

export interface PolicyOptions {
  /** Print `[{ name, services, characters, document }, …]`. */
  json?: boolean;
  /** Write one `<name>.json` per policy into this directory. */
  outputDir?: string;
}

const n = (x: number) => x.toLocaleString('en-US');

function howToAttach(io: Io, policies: NamedPolicy[], dir: string): void {
  io.err(
    `cloudmart needs ${policies.length} customer managed IAM polic${policies.length === 1 ? 'y' : 'ies'}: ` +
      `IAM takes at most ${n(MANAGED_POLICY_MAX_CHARS)} characters per managed policy (whitespace not counted), so the actions are split. ` +
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

/**
 * `policy`: the operator's least-privilege IAM policy, from the actions the steps declare, as
 * managed policies small enough for IAM.
 */
export async function policyCommand(io: Io, opts: PolicyOptions = {}): Promise<number> {
  const policies = operatorPolicies(registry);
  if (opts.json) {
    io.out(JSON.stringify(policies, null, 2));
    return 0;
  }
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
  io.err(
    'Save each document below as <name>.json, or let "cloudmart policy --output-dir <dir>" write the files ("--json" prints them for scripts).',
  );
  for (const p of policies) {
    io.out(
      `\n# ${p.name}: ${p.services.join(', ')} (${n(p.characters)} of ${n(MANAGED_POLICY_MAX_CHARS)} characters)`,
    );
    io.out(JSON.stringify(p.document, null, 2));
  }
  return 0;
}
