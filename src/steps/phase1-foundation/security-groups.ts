import type { IpPermission, SecurityGroup, SecurityGroupRule } from '@aws-sdk/client-ec2';
import { ignoreNotFound, isAlreadyExists } from '../../aws/errors.js';
import { stackFilters } from '../../aws/tags.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import { STEP, type SecurityGroupsOutputs, type VpcOutputs } from '../outputs.js';
import {
  deleteRetrying,
  ec2,
  ec2sdk,
  eniHolders,
  FIX_PHASE1,
  missing,
  previousOutputs,
} from './ec2-lookup.js';

export type SgRole = 'alb' | 'app' | 'db' | 'redis';
const ROLES: readonly SgRole[] = ['alb', 'app', 'db', 'redis'];
const ROLE_TAG = 'cloudmart:role';
const WORLD = new Set(['0.0.0.0/0', '::/0']);

/** One rule the config asks for. `peer` is a CIDR or the role of the referenced group. */
export interface RuleSpec {
  egress: boolean;
  protocol: 'tcp' | '-1';
  from: number;
  to: number;
  peer: { cidr: string } | { group: SgRole } | { prefixList: string };
  description: string;
}

export function dbPort(config: Config): number {
  return config.database.engine === 'mysql' ? 3306 : 5432;
}
export const REDIS_PORT = 6379;

/**
 * CloudFront's origin-facing addresses (an AWS-managed prefix list). When the allow-list is
 * narrowed, CloudFront still has to reach the ALB for `/api/*`; with 0.0.0.0/0 it already can.
 */
export const CLOUDFRONT_PREFIX_LIST = 'com.amazonaws.global.cloudfront.origin-facing';

/** Managed prefix list ids by name, resolved in the stack's region. */
type PrefixListIds = Record<string, string>;

async function resolvePrefixLists(ctx: StepContext, specs: RuleSpec[]): Promise<PrefixListIds> {
  const wantedNames = [
    ...new Set(specs.flatMap((s) => ('prefixList' in s.peer ? [s.peer.prefixList] : []))),
  ];
  if (wantedNames.length === 0) return {};
  const { DescribeManagedPrefixListsCommand } = await ec2sdk();
  const out = await (
    await ec2(ctx)
  ).send(
    new DescribeManagedPrefixListsCommand({
      Filters: [{ Name: 'prefix-list-name', Values: wantedNames }],
    }),
  );
  const ids: PrefixListIds = {};
  for (const pl of out.PrefixLists ?? []) {
    if (pl.PrefixListName && pl.PrefixListId) ids[pl.PrefixListName] = pl.PrefixListId;
  }
  for (const n of wantedNames) {
    if (!ids[n])
      throw new Error(`the managed prefix list ${n} does not exist in ${ctx.config.region}`);
  }
  return ids;
}

function groupName(config: Config, role: SgRole): string {
  return names.of(config, `${role}-sg`);
}

const DESCRIPTIONS: Record<SgRole, string> = {
  alb: 'CloudMart ALB: HTTP/HTTPS from the allowed CIDRs',
  app: 'CloudMart app instances: app port from the ALB only',
  db: 'CloudMart database: engine port from the app instances only',
  redis: 'CloudMart Redis: 6379 from the app instances only',
};

/** Least privilege as the seed asks: each tier reachable only from the tier in front of it. */
export function wantedRules(config: Config): Record<SgRole, RuleSpec[]> {
  const tcp = (port: number, peer: RuleSpec['peer'], description: string): RuleSpec => ({
    egress: false,
    protocol: 'tcp',
    from: port,
    to: port,
    peer,
    description,
  });
  const allOut = (description: string): RuleSpec => ({
    egress: true,
    protocol: '-1',
    from: -1,
    to: -1,
    peer: { cidr: '0.0.0.0/0' },
    description,
  });
  const engine = config.database.engine === 'mysql' ? 'MySQL' : 'PostgreSQL';
  // CloudFront talks to the ALB over HTTPS when there is a certificate, else over HTTP.
  const cloudfrontPort = config.dns.domain ? 443 : 80;
  const cloudfront = config.network.allowedCidrs.includes('0.0.0.0/0')
    ? []
    : [
        tcp(
          cloudfrontPort,
          { prefixList: CLOUDFRONT_PREFIX_LIST },
          `CloudFront origin-facing addresses (the /api/* origin) on ${cloudfrontPort}`,
        ),
      ];
  return {
    alb: [
      ...config.network.allowedCidrs.flatMap((cidr) => [
        tcp(80, { cidr }, `HTTP from allowed ${cidr} (redirected to HTTPS when TLS is on)`),
        tcp(443, { cidr }, `HTTPS from allowed ${cidr}`),
      ]),
      ...cloudfront,
      allOut('AWS default egress: to the targets and their health checks'),
    ],
    app: [
      tcp(config.app.port, { group: 'alb' }, `App port ${config.app.port} from the ALB only`),
      allOut('AWS default egress: packages and AWS APIs through the NAT, RDS, Redis'),
    ],
    // No egress at all: a database and a cache never open connections of their own.
    db: [tcp(dbPort(config), { group: 'app' }, `${engine} from the app instances only`)],
    redis: [tcp(REDIS_PORT, { group: 'app' }, 'Redis from the app instances only')],
  };
}

function normProtocol(p: string | undefined): string {
  if (p === '6') return 'tcp';
  if (p === '17') return 'udp';
  if (p === 'all') return '-1';
  return p ?? '-1';
}

function peerOf(r: SecurityGroupRule): string {
  return (
    r.CidrIpv4 ?? r.CidrIpv6 ?? r.PrefixListId ?? r.ReferencedGroupInfo?.GroupId ?? 'unknown-peer'
  );
}

function liveKey(r: SecurityGroupRule): string {
  const proto = normProtocol(r.IpProtocol);
  const from = proto === '-1' ? -1 : (r.FromPort ?? -1);
  const to = proto === '-1' ? -1 : (r.ToPort ?? -1);
  return `${r.IsEgress ? 'out' : 'in'}|${proto}|${from}|${to}|${peerOf(r)}`;
}

function specPeer(spec: RuleSpec, ids: Record<SgRole, string>, lists: PrefixListIds): string {
  if ('cidr' in spec.peer) return spec.peer.cidr;
  if ('group' in spec.peer) return ids[spec.peer.group];
  return lists[spec.peer.prefixList] ?? spec.peer.prefixList;
}

function specKey(spec: RuleSpec, ids: Record<SgRole, string>, lists: PrefixListIds): string {
  return `${spec.egress ? 'out' : 'in'}|${spec.protocol}|${spec.from}|${spec.to}|${specPeer(spec, ids, lists)}`;
}

function peerLabel(peer: RuleSpec['peer']): string {
  if ('cidr' in peer) return peer.cidr;
  if ('group' in peer) return `${peer.group} SG`;
  return 'CloudFront';
}

/** "tcp 443 from 0.0.0.0/0", "all traffic to 0.0.0.0/0". */
function describeRule(r: SecurityGroupRule, roleOf: (id: string) => string | undefined): string {
  const proto = normProtocol(r.IpProtocol);
  const ports =
    proto === '-1'
      ? 'all traffic'
      : r.FromPort === r.ToPort
        ? `${proto} ${r.FromPort ?? '?'}`
        : `${proto} ${r.FromPort ?? '?'}-${r.ToPort ?? '?'}`;
  const peer = peerOf(r);
  const role = roleOf(peer);
  return `${ports} ${r.IsEgress ? 'to' : 'from'} ${role ? `${peer} (${role})` : peer}`;
}

function permission(
  spec: RuleSpec,
  ids: Record<SgRole, string>,
  lists: PrefixListIds,
): IpPermission {
  const ports = spec.protocol === '-1' ? {} : { FromPort: spec.from, ToPort: spec.to };
  if ('prefixList' in spec.peer) {
    return {
      IpProtocol: spec.protocol,
      ...ports,
      PrefixListIds: [{ PrefixListId: specPeer(spec, ids, lists), Description: spec.description }],
    };
  }
  return 'cidr' in spec.peer
    ? {
        IpProtocol: spec.protocol,
        ...ports,
        IpRanges: [{ CidrIp: spec.peer.cidr, Description: spec.description }],
      }
    : {
        IpProtocol: spec.protocol,
        ...ports,
        UserIdGroupPairs: [{ GroupId: ids[spec.peer.group], Description: spec.description }],
      };
}

async function findGroups(ctx: StepContext, vpcId?: string): Promise<SecurityGroup[]> {
  const { DescribeSecurityGroupsCommand } = await ec2sdk();
  const filters = stackFilters(ctx.config, STEP.securityGroups);
  if (vpcId) filters.push({ Name: 'vpc-id', Values: [vpcId] });
  const out = await (await ec2(ctx)).send(new DescribeSecurityGroupsCommand({ Filters: filters }));
  return out.SecurityGroups ?? [];
}

/** Every rule of the given groups, in one paged call. */
async function rulesOf(ctx: StepContext, groupIds: string[]): Promise<SecurityGroupRule[]> {
  if (groupIds.length === 0) return [];
  const { DescribeSecurityGroupRulesCommand } = await ec2sdk();
  const client = await ec2(ctx);
  const rules: SecurityGroupRule[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(
      new DescribeSecurityGroupRulesCommand({
        Filters: [{ Name: 'group-id', Values: groupIds }],
        NextToken: token,
      }),
    );
    rules.push(...(out.SecurityGroupRules ?? []));
    token = out.NextToken;
  } while (token);
  return rules;
}

function isPortIn(r: SecurityGroupRule, port: number): boolean {
  const proto = normProtocol(r.IpProtocol);
  if (proto === '-1') return true;
  if (proto !== 'tcp') return false;
  const from = r.FromPort ?? -1;
  const to = r.ToPort ?? -1;
  return from === -1 || (from <= port && port <= to);
}

export const securityGroupsStep = defineStep<SecurityGroupsOutputs>({
  id: STEP.securityGroups,
  phase: 1,
  title: 'Security groups (ALB, app, DB, Redis)',
  needs: [STEP.vpc],
  actions: [
    'ec2:DescribeSecurityGroups',
    'ec2:DescribeSecurityGroupRules',
    'ec2:CreateSecurityGroup',
    'ec2:CreateTags',
    'ec2:AuthorizeSecurityGroupIngress',
    'ec2:AuthorizeSecurityGroupEgress',
    'ec2:RevokeSecurityGroupIngress',
    'ec2:RevokeSecurityGroupEgress',
    'ec2:ModifySecurityGroupRules',
    'ec2:DeleteSecurityGroup',
    'ec2:DescribeNetworkInterfaces',
    'ec2:DescribeManagedPrefixLists',
  ],
  describe: (config) => {
    const rules = wantedRules(config);
    return ROLES.map((role) => {
      const ingress = rules[role]
        .filter((r) => !r.egress)
        .map((r) => `${r.from} from ${peerLabel(r.peer)}`);
      const egress = rules[role].some((r) => r.egress) ? 'default egress' : 'no egress';
      return `Security group ${groupName(config, role)}: tcp ${ingress.join(', ')}; ${egress}`;
    });
  },

  async create(ctx) {
    const {
      CreateSecurityGroupCommand,
      AuthorizeSecurityGroupIngressCommand,
      AuthorizeSecurityGroupEgressCommand,
      RevokeSecurityGroupIngressCommand,
      RevokeSecurityGroupEgressCommand,
      ModifySecurityGroupRulesCommand,
    } = await ec2sdk();
    const client = await ec2(ctx);
    const { vpcId } = ctx.outputs<VpcOutputs>(STEP.vpc);
    const existing = await findGroups(ctx, vpcId);

    // CreateSecurityGroup has no client token: the group name (unique per VPC) and the tags set
    // at creation find it after a crash.
    const ids = {} as Record<SgRole, string>;
    for (const role of ROLES) {
      const name = groupName(ctx.config, role);
      const found = existing.find((g) => g.GroupName === name);
      if (found?.GroupId) {
        ids[role] = found.GroupId;
        continue;
      }
      ctx.progress(`creating security group ${name}`);
      const out = await client.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          Description: DESCRIPTIONS[role],
          VpcId: vpcId,
          TagSpecifications: [
            { ResourceType: 'security-group', Tags: ctx.tags.list(name, { [ROLE_TAG]: role }) },
          ],
        }),
      );
      if (!out.GroupId) throw new Error(`CreateSecurityGroup ${name} returned no id`);
      ids[role] = out.GroupId;
    }

    const live = await rulesOf(ctx, Object.values(ids));
    const wanted = wantedRules(ctx.config);
    const lists = await resolvePrefixLists(ctx, Object.values(wanted).flat());
    for (const role of ROLES) {
      const groupId = ids[role];
      const name = groupName(ctx.config, role);
      const current = live.filter((r) => r.GroupId === groupId);
      const byKey = new Map(current.map((r) => [liveKey(r), r]));
      const wantedKeys = new Set(wanted[role].map((s) => specKey(s, ids, lists)));
      const ruleTags = [
        { ResourceType: 'security-group-rule' as const, Tags: ctx.tags.list(name) },
      ];

      // Add first, revoke after, so converging never leaves a gap in allowed traffic.
      for (const spec of wanted[role]) {
        const have = byKey.get(specKey(spec, ids, lists));
        if (!have) {
          ctx.progress(`${name}: allowing ${spec.description}`);
          const input = {
            GroupId: groupId,
            IpPermissions: [permission(spec, ids, lists)],
            TagSpecifications: ruleTags,
          };
          try {
            if (spec.egress) await client.send(new AuthorizeSecurityGroupEgressCommand(input));
            else await client.send(new AuthorizeSecurityGroupIngressCommand(input));
          } catch (e) {
            // InvalidPermission.Duplicate: a rule the describe did not show yet is already there.
            if (!isAlreadyExists(e)) throw e;
          }
        } else if (have.Description !== spec.description && have.SecurityGroupRuleId) {
          await client.send(
            new ModifySecurityGroupRulesCommand({
              GroupId: groupId,
              SecurityGroupRules: [
                {
                  SecurityGroupRuleId: have.SecurityGroupRuleId,
                  SecurityGroupRule: {
                    IpProtocol: spec.protocol,
                    FromPort: spec.from,
                    ToPort: spec.to,
                    ...('cidr' in spec.peer
                      ? { CidrIpv4: spec.peer.cidr }
                      : 'group' in spec.peer
                        ? { ReferencedGroupId: ids[spec.peer.group] }
                        : { PrefixListId: specPeer(spec, ids, lists) }),
                    Description: spec.description,
                  },
                },
              ],
            }),
          );
        }
      }

      // Everything not in the config goes, including AWS's default egress on the DB and Redis.
      const extra = current.filter((r) => !wantedKeys.has(liveKey(r)) && r.SecurityGroupRuleId);
      const extraIn = extra.filter((r) => !r.IsEgress).map((r) => r.SecurityGroupRuleId!);
      const extraOut = extra.filter((r) => r.IsEgress).map((r) => r.SecurityGroupRuleId!);
      if (extraIn.length > 0) {
        ctx.progress(`${name}: revoking ${extraIn.length} ingress rule(s) not in the config`);
        await ignoreNotFound(
          client.send(
            new RevokeSecurityGroupIngressCommand({
              GroupId: groupId,
              SecurityGroupRuleIds: extraIn,
            }),
          ),
        );
      }
      if (extraOut.length > 0) {
        ctx.progress(`${name}: revoking ${extraOut.length} egress rule(s) not in the config`);
        await ignoreNotFound(
          client.send(
            new RevokeSecurityGroupEgressCommand({
              GroupId: groupId,
              SecurityGroupRuleIds: extraOut,
            }),
          ),
        );
      }
    }

    return {
      albSgId: ids.alb,
      appSgId: ids.app,
      dbSgId: ids.db,
      redisSgId: ids.redis,
    };
  },

  async verify(ctx) {
    const vpcId = ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const groups = await findGroups(ctx, vpcId);
    const ids = {} as Record<SgRole, string>;
    const absent: string[] = [];
    for (const role of ROLES) {
      const g = groups.find((x) => x.GroupName === groupName(ctx.config, role));
      if (g?.GroupId) ids[role] = g.GroupId;
      else absent.push(groupName(ctx.config, role));
    }
    if (absent.length === ROLES.length) {
      return [
        missing(
          'network.sg.exists',
          'Security groups exist',
          'security-design',
          `no security group tagged cloudmart:stack=${ctx.config.stack}`,
        ),
      ];
    }
    const roleOf = (id: string) => ROLES.find((r) => ids[r] === id);
    const nameOf = (id: string | undefined) => {
      const role = id ? roleOf(id) : undefined;
      return role ? groupName(ctx.config, role) : (id ?? '?');
    };
    const live = await rulesOf(ctx, Object.values(ids));
    const show = (r: SecurityGroupRule) =>
      `${nameOf(r.GroupId)} ${describeRule(r, (id) => (roleOf(id) ? nameOf(id) : undefined))}`;

    const world = live.filter(
      (r) =>
        !r.IsEgress &&
        WORLD.has(r.CidrIpv4 ?? r.CidrIpv6 ?? '') &&
        !(
          roleOf(r.GroupId ?? '') === 'alb' &&
          normProtocol(r.IpProtocol) === 'tcp' &&
          r.FromPort === r.ToPort &&
          (r.FromPort === 80 || r.FromPort === 443)
        ),
    );
    const ssh = live.filter((r) => !r.IsEgress && isPortIn(r, 22));

    const wanted = wantedRules(ctx.config);
    const lists = await resolvePrefixLists(ctx, Object.values(wanted).flat());
    const notInConfig: SecurityGroupRule[] = [];
    const notLive: string[] = [];
    const noDescription: SecurityGroupRule[] = [];
    for (const role of ROLES) {
      const groupId = ids[role];
      if (!groupId) continue;
      // A rule that references a group that is missing cannot be resolved: it is simply absent.
      const specs = wanted[role].filter((s) => !('group' in s.peer) || ids[s.peer.group]);
      const wantedKeys = new Set(specs.map((s) => specKey(s, ids, lists)));
      const current = live.filter((r) => r.GroupId === groupId);
      const liveKeys = new Set(current.map(liveKey));
      notInConfig.push(...current.filter((r) => !wantedKeys.has(liveKey(r))));
      notLive.push(
        ...specs
          .filter((s) => !liveKeys.has(specKey(s, ids, lists)))
          .map((s) => `${groupName(ctx.config, role)}: ${s.description}`),
      );
      noDescription.push(...current.filter((r) => !r.Description));
    }

    const checks: Check[] = [
      {
        id: 'network.sg.exists',
        title: 'ALB, app, DB and Redis security groups exist',
        criterion: 'security-design',
        status: absent.length === 0 ? 'pass' : 'fail',
        evidence:
          absent.length === 0
            ? ROLES.map((r) => `${groupName(ctx.config, r)}=${ids[r]}`).join(', ')
            : `missing: ${absent.join(', ')}`,
        fix: FIX_PHASE1,
      },
      {
        id: 'network.sg.no-world-ingress',
        title: 'Nothing but the ALB on 80/443 is open to 0.0.0.0/0 or ::/0',
        criterion: 'security-design',
        status: world.length === 0 ? 'pass' : 'fail',
        evidence:
          world.length === 0
            ? 'no world-open ingress outside the ALB listeners'
            : world.map(show).join('; '),
        fix: FIX_PHASE1,
      },
      {
        id: 'network.sg.no-ssh',
        title: 'No SSH (22) ingress: instances are reached through SSM Session Manager',
        criterion: 'security-design',
        status: ssh.length === 0 ? 'pass' : 'fail',
        evidence: ssh.length === 0 ? 'no ingress rule covers port 22' : ssh.map(show).join('; '),
        fix: FIX_PHASE1,
      },
      {
        id: 'network.sg.rules-match-config',
        title: 'Security group rules are exactly those of the config (least privilege)',
        criterion: 'security-design',
        status: notInConfig.length === 0 && notLive.length === 0 ? 'pass' : 'fail',
        evidence:
          notInConfig.length === 0 && notLive.length === 0
            ? `${live.length} rules, all from the config`
            : [
                ...notInConfig.map((r) => `not in the config: ${show(r)}`),
                ...notLive.map((d) => `missing: ${d}`),
              ].join('; '),
        fix: FIX_PHASE1,
      },
      {
        id: 'network.sg.descriptions',
        title: 'Every security group rule has a description',
        criterion: 'security-design',
        status: noDescription.length === 0 ? 'pass' : 'warn',
        evidence:
          noDescription.length === 0
            ? 'all rules are described'
            : `without description: ${noDescription.map(show).join('; ')}`,
        fix: FIX_PHASE1,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const {
      RevokeSecurityGroupIngressCommand,
      RevokeSecurityGroupEgressCommand,
      DeleteSecurityGroupCommand,
    } = await ec2sdk();
    const client = await ec2(ctx);
    const prev = previousOutputs<SecurityGroupsOutputs>(ctx);
    const groupIds = new Set<string>([
      ...(await findGroups(ctx)).map((g) => g.GroupId!).filter(Boolean),
      ...[prev?.albSgId, prev?.appSgId, prev?.dbSgId, prev?.redisSgId].filter(
        (id): id is string => typeof id === 'string',
      ),
    ]);
    if (groupIds.size === 0) return;

    // Groups that reference each other cannot be deleted: drop the references first.
    const rules = await rulesOf(ctx, [...groupIds]);
    const refs = rules.filter((r) => r.ReferencedGroupInfo?.GroupId && r.SecurityGroupRuleId);
    for (const groupId of new Set(refs.map((r) => r.GroupId!))) {
      const mine = refs.filter((r) => r.GroupId === groupId);
      const inIds = mine.filter((r) => !r.IsEgress).map((r) => r.SecurityGroupRuleId!);
      const outIds = mine.filter((r) => r.IsEgress).map((r) => r.SecurityGroupRuleId!);
      ctx.progress(`removing cross-group references from ${groupId}`);
      if (inIds.length > 0) {
        await ignoreNotFound(
          client.send(
            new RevokeSecurityGroupIngressCommand({
              GroupId: groupId,
              SecurityGroupRuleIds: inIds,
            }),
          ),
        );
      }
      if (outIds.length > 0) {
        await ignoreNotFound(
          client.send(
            new RevokeSecurityGroupEgressCommand({
              GroupId: groupId,
              SecurityGroupRuleIds: outIds,
            }),
          ),
        );
      }
    }

    // ENIs of the ALB, RDS and Redis hold their groups for minutes after their owners are gone.
    await Promise.all(
      [...groupIds].map((id) =>
        deleteRetrying(
          ctx,
          `deleting security group ${id}`,
          () => client.send(new DeleteSecurityGroupCommand({ GroupId: id })),
          () => eniHolders(ctx, 'group-id', id),
        ),
      ),
    );
  },
});
