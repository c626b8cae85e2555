import type { IpPermission, SecurityGroup, SecurityGroupRule } from '@aws-sdk/client-ec2';
import { afterCreate, CONSISTENCY_WINDOW_MS } from '../../aws/consistency.js';
import { ignoreNotFound, isAlreadyExists } from '../../aws/errors.js';
import { allPages } from '../../aws/pages.js';
import { stackFilters } from '../../aws/tags.js';
import { waitUntil } from '../../aws/wait.js';
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

/**
 * `alb-health` is a second group on the ALB, only for a domain with a narrowed allow-list: it
 * lets the Route 53 health checkers reach https://api.<domain>/health. It is a group of its own
 * because a prefix list counts as its max entries against the 60 inbound rules a group may
 * hold by default: CloudFront's list weighs 55 and Route 53's 25, so both do not fit in one.
 */
export type SgRole = 'alb' | 'app' | 'db' | 'redis' | 'alb-health';
/** The four groups every stack has. */
const CORE_ROLES: readonly SgRole[] = ['alb', 'app', 'db', 'redis'];
const ALL_ROLES: readonly SgRole[] = [...CORE_ROLES, 'alb-health'];
type GroupIds = Partial<Record<SgRole, string>>;
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

/** The Route 53 health checkers' addresses (AWS-managed, per region, IPv4; weight 25). */
export function route53HealthCheckPrefixList(region: string): string {
  return `com.amazonaws.${region}.route53-healthchecks`;
}

/**
 * With a domain, Route 53 health-checks https://api.<domain>/health straight at the ALB. When
 * the allow-list is narrowed, its checkers are outside it and need a rule of their own.
 */
export function needsHealthCheckGroup(config: Config): boolean {
  return config.dns.domain !== null && !config.network.allowedCidrs.includes('0.0.0.0/0');
}

/** The groups this config asks for. */
function rolesFor(config: Config): SgRole[] {
  return needsHealthCheckGroup(config) ? [...ALL_ROLES] : [...CORE_ROLES];
}

/**
 * The security groups the ALB carries: its own, plus the Route 53 health-check group when the
 * config needs one (see SgRole). For the load balancer step's SecurityGroups.
 */
export function albSecurityGroupIds(sg: SecurityGroupsOutputs): string[] {
  const extra = sg.albHealthCheckSgId;
  return typeof extra === 'string' && extra ? [sg.albSgId, extra] : [sg.albSgId];
}

/** Managed prefix list ids by name, resolved in the stack's region. */
type PrefixListIds = Record<string, string>;

async function resolvePrefixLists(ctx: StepContext, specs: RuleSpec[]): Promise<PrefixListIds> {
  const wantedNames = [
    ...new Set(specs.flatMap((s) => ('prefixList' in s.peer ? [s.peer.prefixList] : []))),
  ];
  if (wantedNames.length === 0) return {};
  const { paginateDescribeManagedPrefixLists } = await ec2sdk();
  const lists = await allPages(
    paginateDescribeManagedPrefixLists(
      { client: await ec2(ctx) },
      { Filters: [{ Name: 'prefix-list-name', Values: wantedNames }] },
    ),
    (page) => page.PrefixLists,
  );
  const ids: PrefixListIds = {};
  for (const pl of lists) {
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
  'alb-health': 'CloudMart ALB: HTTPS from the Route 53 health checkers only',
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
    // No egress: the ALB group's egress covers the ALB, and replies need none (stateful).
    'alb-health': needsHealthCheckGroup(config)
      ? [
          tcp(
            443,
            { prefixList: route53HealthCheckPrefixList(config.region) },
            `Route 53 health checkers (the https://${config.dns.apiSubdomain}.${config.dns.domain ?? ''}/health check) on 443`,
          ),
        ]
      : [],
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

function specPeer(spec: RuleSpec, ids: GroupIds, lists: PrefixListIds): string {
  if ('cidr' in spec.peer) return spec.peer.cidr;
  if ('group' in spec.peer) return ids[spec.peer.group] ?? spec.peer.group;
  return lists[spec.peer.prefixList] ?? spec.peer.prefixList;
}

function specKey(spec: RuleSpec, ids: GroupIds, lists: PrefixListIds): string {
  return `${spec.egress ? 'out' : 'in'}|${spec.protocol}|${spec.from}|${spec.to}|${specPeer(spec, ids, lists)}`;
}

function peerLabel(peer: RuleSpec['peer']): string {
  if ('cidr' in peer) return peer.cidr;
  if ('group' in peer) return `${peer.group} SG`;
  return peer.prefixList === CLOUDFRONT_PREFIX_LIST ? 'CloudFront' : 'Route 53 health checkers';
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

function permission(spec: RuleSpec, ids: GroupIds, lists: PrefixListIds): IpPermission {
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
        UserIdGroupPairs: [{ GroupId: specPeer(spec, ids, lists), Description: spec.description }],
      };
}

async function findGroups(ctx: StepContext, vpcId?: string): Promise<SecurityGroup[]> {
  const { paginateDescribeSecurityGroups } = await ec2sdk();
  const filters = stackFilters(ctx.config, STEP.securityGroups);
  if (vpcId) filters.push({ Name: 'vpc-id', Values: [vpcId] });
  return allPages(
    paginateDescribeSecurityGroups({ client: await ec2(ctx) }, { Filters: filters }),
    (page) => page.SecurityGroups,
  );
}

/** Every rule of the given groups, in one paged call. */
async function rulesOf(ctx: StepContext, groupIds: string[]): Promise<SecurityGroupRule[]> {
  if (groupIds.length === 0) return [];
  const { paginateDescribeSecurityGroupRules } = await ec2sdk();
  return allPages(
    paginateDescribeSecurityGroupRules(
      { client: await ec2(ctx) },
      { Filters: [{ Name: 'group-id', Values: groupIds }] },
    ),
    (page) => page.SecurityGroupRules,
  );
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
    return rolesFor(config).map((role) => {
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
    const wantedRoles = rolesFor(ctx.config);

    // CreateSecurityGroup has no client token: the group name (unique per VPC) and the tags set
    // at creation find it after a crash.
    const ids: GroupIds = {};
    const created = new Set<string>();
    for (const role of ALL_ROLES) {
      const name = groupName(ctx.config, role);
      const found = existing.find((g) => g.GroupName === name);
      if (found?.GroupId) {
        // A health-check group the config no longer needs is converged to no rules; it may
        // still sit on the ALB, so it is deleted with the stack, not here.
        ids[role] = found.GroupId;
        continue;
      }
      if (!wantedRoles.includes(role)) continue;
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
      created.add(out.GroupId);
    }
    const present = ALL_ROLES.filter((r) => ids[r] !== undefined);

    const live = await rulesOf(
      ctx,
      present.map((r) => ids[r]!),
    );
    // A group created moments ago may not show its rules yet (AWS gives every VPC group a
    // default egress rule at creation): read again until it does, or the default egress of the
    // DB and Redis groups would survive this run.
    const unseen = (rules: SecurityGroupRule[]) =>
      [...created].filter((id) => !rules.some((r) => r.GroupId === id && r.IsEgress));
    if (unseen(live).length > 0) {
      await waitUntil(
        ctx,
        async () => {
          const again = await rulesOf(
            ctx,
            present.map((r) => ids[r]!),
          );
          live.splice(0, live.length, ...again);
          const missing = unseen(again);
          return {
            done: missing.length === 0,
            status: `rules of ${missing.join(', ')} not visible yet`,
          };
        },
        {
          what: 'new security groups',
          minDelayMs: 1_000,
          maxDelayMs: 5_000,
          timeoutMs: CONSISTENCY_WINDOW_MS,
        },
      );
    }

    const wanted = wantedRules(ctx.config);
    const lists = await resolvePrefixLists(ctx, Object.values(wanted).flat());
    for (const role of present) {
      const groupId = ids[role]!;
      const name = groupName(ctx.config, role);
      const current = live.filter((r) => r.GroupId === groupId);
      const byKey = new Map(current.map((r) => [liveKey(r), r]));
      const wantedKeys = new Set(wanted[role].map((s) => specKey(s, ids, lists)));
      const ruleTags = [
        { ResourceType: 'security-group-rule' as const, Tags: ctx.tags.list(name) },
      ];
      // Calls on a group created moments ago (or naming one as the peer) may answer
      // InvalidGroup.NotFound for a short while: the EC2 docs name exactly this case.
      const fresh = (spec?: RuleSpec) =>
        created.has(groupId) ||
        (spec !== undefined && 'group' in spec.peer && created.has(ids[spec.peer.group] ?? ''));

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
            await afterCreate(
              ctx,
              fresh(spec),
              () =>
                spec.egress
                  ? client.send(new AuthorizeSecurityGroupEgressCommand(input))
                  : client.send(new AuthorizeSecurityGroupIngressCommand(input)),
              { what: `${name}: allowing ${spec.description}` },
            );
          } catch (e) {
            // InvalidPermission.Duplicate: a rule the describe did not show yet is already there.
            if (!isAlreadyExists(e)) throw e;
          }
        } else if (have.Description !== spec.description && have.SecurityGroupRuleId) {
          await afterCreate(
            ctx,
            fresh(spec),
            () =>
              client.send(
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
                            ? { ReferencedGroupId: specPeer(spec, ids, lists) }
                            : { PrefixListId: specPeer(spec, ids, lists) }),
                        Description: spec.description,
                      },
                    },
                  ],
                }),
              ),
            { what: `${name}: describing the rule as "${spec.description}"` },
          );
        }
      }

      // Everything not in the config goes, including AWS's default egress on the DB and Redis.
      // Rule ids come from a describe: NotFound means the rule is already gone (on a group
      // created moments ago it may also mean the group is not visible yet: retried first).
      const extra = current.filter((r) => !wantedKeys.has(liveKey(r)) && r.SecurityGroupRuleId);
      const extraIn = extra.filter((r) => !r.IsEgress).map((r) => r.SecurityGroupRuleId!);
      const extraOut = extra.filter((r) => r.IsEgress).map((r) => r.SecurityGroupRuleId!);
      if (extraIn.length > 0) {
        ctx.progress(`${name}: revoking ${extraIn.length} ingress rule(s) not in the config`);
        await ignoreNotFound(
          afterCreate(
            ctx,
            fresh(),
            () =>
              client.send(
                new RevokeSecurityGroupIngressCommand({
                  GroupId: groupId,
                  SecurityGroupRuleIds: extraIn,
                }),
              ),
            { what: `${name}: revoking ingress not in the config` },
          ),
        );
      }
      if (extraOut.length > 0) {
        ctx.progress(`${name}: revoking ${extraOut.length} egress rule(s) not in the config`);
        await ignoreNotFound(
          afterCreate(
            ctx,
            fresh(),
            () =>
              client.send(
                new RevokeSecurityGroupEgressCommand({
                  GroupId: groupId,
                  SecurityGroupRuleIds: extraOut,
                }),
              ),
            { what: `${name}: revoking egress not in the config` },
          ),
        );
      }
    }

    return {
      albSgId: ids.alb!,
      appSgId: ids.app!,
      dbSgId: ids.db!,
      redisSgId: ids.redis!,
      ...(wantedRoles.includes('alb-health') ? { albHealthCheckSgId: ids['alb-health']! } : {}),
    };
  },

  async verify(ctx) {
    const vpcId = ctx.maybeOutputs<VpcOutputs>(STEP.vpc)?.vpcId;
    const groups = await findGroups(ctx, vpcId);
    const wantedRoles = rolesFor(ctx.config);
    const ids: GroupIds = {};
    const absent: string[] = [];
    for (const role of ALL_ROLES) {
      const g = groups.find((x) => x.GroupName === groupName(ctx.config, role));
      if (g?.GroupId) ids[role] = g.GroupId;
      else if (wantedRoles.includes(role)) absent.push(groupName(ctx.config, role));
    }
    if (CORE_ROLES.every((r) => !ids[r])) {
      return [
        missing(
          'network.sg.exists',
          'Security groups exist',
          'security-design',
          `no security group tagged cloudmart:stack=${ctx.config.stack}`,
        ),
      ];
    }
    const roleOf = (id: string) => ALL_ROLES.find((r) => ids[r] === id);
    const nameOf = (id: string | undefined) => {
      const role = id ? roleOf(id) : undefined;
      return role ? groupName(ctx.config, role) : (id ?? '?');
    };
    const present = ALL_ROLES.filter((r) => ids[r] !== undefined);
    const live = await rulesOf(
      ctx,
      present.map((r) => ids[r]!),
    );
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
    // A health-check group the config no longer needs must hold no rule at all.
    for (const role of present) {
      const groupId = ids[role]!;
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
            ? wantedRoles.map((r) => `${groupName(ctx.config, r)}=${ids[r] ?? '?'}`).join(', ')
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
      ...[
        prev?.albSgId,
        prev?.appSgId,
        prev?.dbSgId,
        prev?.redisSgId,
        prev?.albHealthCheckSgId,
      ].filter((id): id is string => typeof id === 'string'),
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
