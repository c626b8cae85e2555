import { join } from 'node:path';
import {
  MANAGED_POLICIES_PER_PRINCIPAL,
  MANAGED_POLICY_MAX_CHARS,
  operatorPolicies,
  policySize,
  scopeReport,
  type NamedPolicy,
  type PolicyDocument,
  type ServiceScopeReport,
} from '../../engine/policy.js';
import { boundaryPolicy, operatorScope } from '../../steps/permissions.js';
import { boundaryArnText, boundaryName, createBoundaryCommand } from '../../steps/role-boundary.js';
import type { Config } from '../../config/schema.js';
import { registry } from '../../steps/registry.js';
import type { Io } from '../io.js';
import { makeOutputDir, writeOutputFile } from '../output.js';
import { readConfig, remoteState, type GlobalOptions } from '../runtime.js';

export interface PolicyOptions {
  /** Print one JSON document: `{ stack, policies: [{ name, services, characters, document }], scope }`. */
  json?: boolean;
  /** Write one `<name>.json` per policy into this directory. */
  outputDir?: string;
  /** Print (or write) only the permissions boundary of the stack's roles. */
  boundary?: boolean;
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
 * How the boundary is set up: the administrator creates it, never the operator (who could then
 * rewrite it and lift the cap), and the config names it so the roles are created with it.
 */
function howToCreateBoundary(io: Io, config: Config, file: string): void {
  const name = boundaryName(config);
  io.err(
    `The permissions boundary caps every role cloudmart creates (the instance, flow-logs and AWS Backup roles) at what that role needs, whatever policy is put on it. ` +
      `An administrator creates it once, before the operator policies are used (their holder can neither create nor change it):
` +
      `  ${createBoundaryCommand(config, file)}`,
  );
  if (!config.security.permissionsBoundary)
    io.err(
      `Then name it in the config, so the roles are created with it:
  security:
    permissionsBoundary: ${name}`,
    );
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
  const boundary = {
    name: boundaryName(config),
    characters: policySize(boundaryPolicy(config) as PolicyDocument),
    document: boundaryPolicy(config),
  };
  const boundaryFile = `${boundary.name}.json`;
  if (opts.boundary) {
    if (opts.outputDir) {
      await makeOutputDir(opts.outputDir, 'the policy folder');
      await writeOutputFile(
        join(opts.outputDir, boundaryFile),
        JSON.stringify(boundary.document, null, 2) + '\n',
        `the boundary ${boundary.name}`,
      );
      io.err(`Wrote ${boundaryFile} to ${opts.outputDir}.`);
      howToCreateBoundary(io, config, join(opts.outputDir, boundaryFile));
      return 0;
    }
    howToCreateBoundary(io, config, boundaryFile);
    io.err('The boundary document follows on stdout (save it as the file named above).');
    io.out(JSON.stringify(boundary.document, null, 2));
    return 0;
  }
  if (opts.json) {
    io.out(JSON.stringify({ stack: config.stack, policies, boundary, scope: report }, null, 2));
    return 0;
  }
  describeScope(io, config.stack, report);
  const boundaryNote = () =>
    io.err(
      `They let cloudmart create the stack's roles, and write their policies, only with the permissions boundary ${boundaryArnText(config)}: ` +
        `create it first (cloudmart policy --boundary)${config.security.permissionsBoundary ? '' : ` and set security.permissionsBoundary: ${boundary.name} in the config`}.`,
    );
  if (opts.outputDir) {
    await makeOutputDir(opts.outputDir, 'the policy folder');
    for (const p of policies) {
      await writeOutputFile(
        join(opts.outputDir, `${p.name}.json`),
        JSON.stringify(p.document, null, 2) + '\n',
        `the policy ${p.name}`,
      );
    }
    await writeOutputFile(
      join(opts.outputDir, boundaryFile),
      JSON.stringify(boundary.document, null, 2) + '\n',
      `the boundary ${boundary.name}`,
    );
    io.err(
      `Wrote ${[...policies.map((p) => `${p.name}.json`), boundaryFile].join(', ')} to ${opts.outputDir}.`,
    );
    howToCreateBoundary(io, config, join(opts.outputDir, boundaryFile));
    howToAttach(io, policies, opts.outputDir);
    boundaryNote();
    return 0;
  }
  howToAttach(io, policies, '.');
  boundaryNote();
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
