import type { Rule, WebACL, WebACLSummary } from '@aws-sdk/client-wafv2';
import { isDependencyViolation, isNotFound } from '../../aws/errors.js';
import { retryWhile } from '../../aws/wait.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { names } from '../names.js';
import { STEP, type WafOutputs } from '../outputs.js';
import { distributionComment } from './distribution.js';

const wafsdk = () => import('@aws-sdk/client-wafv2');

/** A web ACL for CloudFront lives in us-east-1 with scope CLOUDFRONT, whatever the stack's region. */
const SCOPE = 'CLOUDFRONT' as const;

/** The AWS managed rule groups the seed asks for, in evaluation order. */
export const MANAGED_RULE_GROUPS = [
  'AWSManagedRulesCommonRuleSet',
  'AWSManagedRulesKnownBadInputsRuleSet',
  'AWSManagedRulesAmazonIpReputationList',
] as const;

export const RATE_RULE_NAME = 'RateLimitPerIp';

const webAclName = (config: Config) => names.of(config, 'web-acl');

/** CloudWatch metric names allow letters, digits, and - _ only. */
const metric = (name: string) => name.replace(/[^A-Za-z0-9_-]/g, '-');

/** The rules the web ACL must hold: three managed groups, then a per-IP rate limit that blocks. */
export function desiredRules(config: Config): Rule[] {
  const managed: Rule[] = MANAGED_RULE_GROUPS.map((group, i) => ({
    Name: `AWS-${group}`,
    Priority: i,
    Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: group } },
    OverrideAction: { None: {} },
    VisibilityConfig: {
      SampledRequestsEnabled: true,
      CloudWatchMetricsEnabled: true,
      MetricName: `AWS-${group}`,
    },
  }));
  return [
    ...managed,
    {
      Name: RATE_RULE_NAME,
      Priority: managed.length,
      Statement: {
        RateBasedStatement: {
          Limit: config.cdn.wafRateLimit,
          AggregateKeyType: 'IP',
          EvaluationWindowSec: 300,
        },
      },
      Action: { Block: {} },
      VisibilityConfig: {
        SampledRequestsEnabled: true,
        CloudWatchMetricsEnabled: true,
        MetricName: RATE_RULE_NAME,
      },
    },
  ];
}

function aclVisibility(config: Config) {
  return {
    SampledRequestsEnabled: true,
    CloudWatchMetricsEnabled: true,
    MetricName: metric(webAclName(config)),
  };
}

/** The parts of a rule that decide what it does; AWS fills in the rest with defaults. */
function ruleSignature(r: Rule): string {
  const s = r.Statement;
  const mg = s?.ManagedRuleGroupStatement;
  const rate = s?.RateBasedStatement;
  return JSON.stringify({
    name: r.Name,
    priority: r.Priority,
    managed: mg
      ? {
          group: `${mg.VendorName}/${mg.Name}`,
          version: mg.Version ?? null,
          // Excluded rules or overrides weaken a group: that is drift.
          excluded: mg.ExcludedRules?.length ?? 0,
          overrides: mg.RuleActionOverrides?.length ?? 0,
          scopeDown: mg.ScopeDownStatement ? 1 : 0,
        }
      : null,
    rate: rate
      ? {
          limit: rate.Limit,
          key: rate.AggregateKeyType,
          window: rate.EvaluationWindowSec ?? 300,
          scopeDown: rate.ScopeDownStatement ? 1 : 0,
        }
      : null,
    other: !mg && !rate ? Object.keys(s ?? {}).sort() : null,
    action: r.Action ? Object.keys(r.Action).sort() : null,
    overrideAction: r.OverrideAction ? Object.keys(r.OverrideAction).sort() : null,
    metrics: [
      r.VisibilityConfig?.CloudWatchMetricsEnabled === true,
      r.VisibilityConfig?.SampledRequestsEnabled === true,
    ],
  });
}

function rulesMatch(live: Rule[] | undefined, want: Rule[]): boolean {
  const a = (live ?? []).map(ruleSignature).sort();
  const b = want.map(ruleSignature).sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function aclMatches(acl: WebACL, config: Config): boolean {
  return (
    rulesMatch(acl.Rules, desiredRules(config)) &&
    Object.keys(acl.DefaultAction ?? {}).join() === 'Allow' &&
    acl.VisibilityConfig?.CloudWatchMetricsEnabled === true &&
    acl.VisibilityConfig?.SampledRequestsEnabled === true
  );
}

/** Web ACL names are unique per scope: the name is the only guard (CreateWebACL takes no token). */
async function findWebAcl(ctx: StepContext): Promise<WebACLSummary | undefined> {
  const { ListWebACLsCommand } = await wafsdk();
  const waf = await ctx.aws.get('wafv2', ctx.config.edgeRegion);
  const name = webAclName(ctx.config);
  let marker: string | undefined;
  do {
    const out = await waf.send(
      new ListWebACLsCommand({
        Scope: SCOPE,
        Limit: 100,
        ...(marker ? { NextMarker: marker } : {}),
      }),
    );
    const hit = out.WebACLs?.find((w) => w.Name === name);
    if (hit) return hit;
    // WAF returns a marker even on the last page; an empty page ends the listing.
    marker = out.WebACLs && out.WebACLs.length > 0 ? out.NextMarker : undefined;
  } while (marker);
  return undefined;
}

async function getWebAcl(
  ctx: StepContext,
  summary: { Name?: string; Id?: string },
): Promise<{ acl: WebACL; lockToken: string }> {
  const { GetWebACLCommand } = await wafsdk();
  const waf = await ctx.aws.get('wafv2', ctx.config.edgeRegion);
  const out = await waf.send(
    new GetWebACLCommand({ Name: summary.Name, Id: summary.Id, Scope: SCOPE }),
  );
  if (!out.WebACL || !out.LockToken) throw new Error(`GetWebACL ${summary.Name} returned nothing`);
  return { acl: out.WebACL, lockToken: out.LockToken };
}

const isLockConflict = (e: unknown) => (e as Error | null)?.name === 'WAFOptimisticLockException';

export const webAclStep = defineStep<WafOutputs>({
  id: STEP.waf,
  phase: 1,
  title: 'WAF web ACL (CloudFront)',
  needs: [],
  actions: [
    'wafv2:ListWebACLs',
    'wafv2:GetWebACL',
    'wafv2:CreateWebACL',
    'wafv2:UpdateWebACL',
    'wafv2:DeleteWebACL',
    'wafv2:TagResource',
    'cloudfront:ListDistributionsByWebACLId',
  ],
  describe: (config) => [
    `WAFv2 web ACL ${webAclName(config)} in ${config.edgeRegion} (scope CLOUDFRONT), default allow`,
    `rules: ${MANAGED_RULE_GROUPS.join(', ')}; rate limit ${config.cdn.wafRateLimit} requests / 5 min per IP (block); CloudWatch metrics on`,
  ],

  async create(ctx) {
    const { CreateWebACLCommand, UpdateWebACLCommand } = await wafsdk();
    const waf = await ctx.aws.get('wafv2', ctx.config.edgeRegion);
    const name = webAclName(ctx.config);
    const rules = desiredRules(ctx.config);

    let summary = await findWebAcl(ctx);
    if (!summary) {
      ctx.progress(`WAF web ACL ${name}: creating in ${ctx.config.edgeRegion}`);
      try {
        const out = await waf.send(
          new CreateWebACLCommand({
            Name: name,
            Scope: SCOPE,
            Description: `CloudMart ${ctx.config.stack}: CloudFront protection`,
            DefaultAction: { Allow: {} },
            Rules: rules,
            VisibilityConfig: aclVisibility(ctx.config),
            Tags: ctx.tags.list(name),
          }),
        );
        summary = out.Summary;
      } catch (e) {
        // Created by a run that crashed before recording it: adopt.
        if ((e as Error).name !== 'WAFDuplicateItemException') throw e;
        summary = await findWebAcl(ctx);
      }
      if (!summary?.ARN || !summary.Id) throw new Error(`CreateWebACL ${name} returned no ARN`);
    } else {
      // Converge only when the rules differ; a concurrent edit bumps the lock token: re-read.
      await retryWhile(
        ctx,
        async () => {
          const { acl, lockToken } = await getWebAcl(ctx, summary!);
          if (aclMatches(acl, ctx.config)) return;
          ctx.progress(`WAF web ACL ${name}: updating its rules`);
          await waf.send(
            new UpdateWebACLCommand({
              Name: name,
              Scope: SCOPE,
              Id: summary!.Id,
              Description:
                acl.Description ?? `CloudMart ${ctx.config.stack}: CloudFront protection`,
              DefaultAction: { Allow: {} },
              Rules: rules,
              VisibilityConfig: aclVisibility(ctx.config),
              LockToken: lockToken,
            }),
          );
        },
        { what: `updating WAF web ACL ${name}`, when: isLockConflict, timeoutMs: 60_000 },
      );
    }
    return { webAclArn: summary.ARN!, webAclId: summary.Id!, webAclName: name };
  },

  async verify(ctx) {
    const name = webAclName(ctx.config);
    const fix = 'cloudmart up --phase 1';
    const summary = await findWebAcl(ctx);
    if (!summary?.ARN) {
      return [
        {
          id: 'edge.waf.exists',
          title: 'WAF web ACL exists',
          criterion: 'security-design',
          status: 'fail',
          evidence: `no web ACL ${name} (scope CLOUDFRONT, ${ctx.config.edgeRegion})`,
          fix,
        },
      ];
    }
    const { acl } = await getWebAcl(ctx, summary);
    const want = desiredRules(ctx.config);
    const live = new Map((acl.Rules ?? []).map((r) => [r.Name, r]));
    const missing = want.filter((r) => {
      const l = live.get(r.Name);
      return !l || ruleSignature({ ...l, Priority: r.Priority }) !== ruleSignature(r);
    });

    const { ListDistributionsByWebACLIdCommand } = await import('@aws-sdk/client-cloudfront');
    const cf = await ctx.aws.get('cloudfront');
    const attached = await cf.send(
      new ListDistributionsByWebACLIdCommand({ WebACLId: summary.ARN, MaxItems: 100 }),
    );
    const ours = (attached.DistributionList?.Items ?? []).find(
      (d) => d.Comment === distributionComment(ctx.config),
    );

    const checks: Check[] = [
      {
        id: 'edge.waf.rules',
        title: 'WAF managed rule groups and rate limit present',
        criterion: 'security-design',
        status: missing.length === 0 ? 'pass' : 'fail',
        evidence:
          missing.length === 0
            ? `rules: ${(acl.Rules ?? []).map((r) => r.Name).join(', ')}`
            : `missing or changed: ${missing.map((r) => r.Name).join(', ')}`,
        fix,
      },
      {
        id: 'edge.waf.attached',
        title: 'WAF web ACL attached to the CloudFront distribution',
        criterion: 'security-design',
        status: ours ? 'pass' : 'fail',
        evidence: ours
          ? `attached to ${ours.Id} (${ours.DomainName})`
          : `no distribution of stack ${ctx.config.stack} uses ${name}`,
        fix,
      },
    ];
    return checks;
  },

  async teardown(ctx) {
    const { DeleteWebACLCommand } = await wafsdk();
    const waf = await ctx.aws.get('wafv2', ctx.config.edgeRegion);
    const name = webAclName(ctx.config);
    const found = await findWebAcl(ctx);
    const id = found?.Id ?? (ctx.previous?.webAclId as string | undefined);
    if (!id) return;
    try {
      // A distribution being deleted keeps the ACL associated for minutes (WAFAssociatedItemException).
      await retryWhile(
        ctx,
        async () => {
          const { lockToken } = await getWebAcl(ctx, { Name: name, Id: id });
          await waf.send(
            new DeleteWebACLCommand({ Name: name, Id: id, Scope: SCOPE, LockToken: lockToken }),
          );
        },
        {
          what: `deleting WAF web ACL ${name}`,
          when: (e) => isDependencyViolation(e) || isLockConflict(e),
          timeoutMs: 30 * 60_000,
        },
      );
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  },
});
