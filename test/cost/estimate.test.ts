import { describe, expect, it } from 'vitest';
import { costSoFar, costVerdict, estimateCost, startedHours } from '../../src/cost/estimate.js';
import { onDemandHourly } from '../../src/cost/live.js';
import { REGION_PRICES } from '../../src/cost/prices.js';
import { testConfig } from '../helpers/context.js';

describe('cost estimate', () => {
  it('prices the seed stack in ap-northeast-2 line by line and sums it for 50 minutes', () => {
    const e = estimateCost(testConfig());
    const p = REGION_PRICES['ap-northeast-2']!;
    const line = (r: string) => e.lines.find((l) => l.resource === r)!;
    expect(line('NAT gateways').usdPerHour).toBeCloseTo(2 * p.natGatewayHour, 4);
    expect(line('RDS').usdPerHour).toBeCloseTo(2 * p.rdsPostgres['db.t3.micro']!, 4);
    expect(line('ElastiCache').usdPerHour).toBeCloseTo(2 * p.elasticache['cache.t3.micro']!, 4);
    expect(line('EC2 instances').usdPerHour).toBeCloseTo(2 * p.ec2['t3.micro']!, 4);
    expect(e.hours).toBeCloseTo(50 / 60, 6);
    const sum = e.lines.reduce((s, l) => s + l.usd, 0);
    expect(e.total).toBeCloseTo(sum, 3);
    // NAT gateway and load balancer hours are billed per started hour: 50 min bill a full hour.
    const perStartedHour = new Set(['NAT gateways', 'Application Load Balancer']);
    expect(e.total).toBeCloseTo(
      e.lines.reduce(
        (s, l) => s + l.usdPerHour * (perStartedHour.has(l.resource) ? 1 : e.hours) + l.usdOnce,
        0,
      ),
      3,
    );
    expect(line('NAT gateways').usd).toBeCloseTo(
      2 * p.natGatewayHour + line('NAT gateways').usdOnce,
      4,
    );
    expect(e.withinBudget).toBe(true);
    expect(e.total).toBeLessThan(0.8);
    expect(e.unpriced).toEqual([]);
  });

  it('scales with hours and warns when over budget', () => {
    const e = estimateCost(testConfig(), 10);
    expect(e.total).toBeGreaterThan(0.8);
    expect(e.withinBudget).toBe(false);
  });

  it('single-AZ RDS halves the RDS line; an unknown instance type is unpriced, not guessed', () => {
    const multi = estimateCost(testConfig()).lines.find((l) => l.resource === 'RDS')!;
    const single = estimateCost(testConfig({ database: { multiAz: false } })).lines.find(
      (l) => l.resource === 'RDS',
    )!;
    expect(single.usdPerHour).toBeCloseTo(multi.usdPerHour / 2, 4);
    // A real type the bundled table has no price for: unpriced, and no budget verdict.
    const odd = estimateCost(testConfig({ app: { instanceType: 'm7i.large' } }));
    expect(odd.unpriced).toEqual(['EC2 instances']);
    expect(costVerdict(odd)).toBe('unpriced');
    expect(costVerdict(estimateCost(testConfig()))).toBe('within');
    expect(costVerdict(estimateCost(testConfig({ budget: { usd: 0.01 } })))).toBe('over');
  });

  it('uses live prices when given', () => {
    const e = estimateCost(testConfig(), 1, { ec2: 1 });
    expect(e.lines.find((l) => l.resource === 'EC2 instances')!.usdPerHour).toBe(2);
  });

  it('reads the hourly on-demand price out of a Price List product', () => {
    const product = JSON.stringify({
      terms: {
        OnDemand: {
          a: { priceDimensions: { b: { unit: 'Hrs', pricePerUnit: { USD: '0.0130000000' } } } },
        },
      },
    });
    expect(onDemandHourly(product)).toBe(0.013);
    expect(onDemandHourly('nope')).toBeUndefined();
  });
});

describe('live prices', () => {
  it('asks the Price List API for the configured instance types in the stack region and keeps the table on a miss', async () => {
    const { GetProductsCommand, PricingClient } = await import('@aws-sdk/client-pricing');
    const { strictMock, TestAws } = await import('../helpers/context.js');
    const { livePrices } = await import('../../src/cost/live.js');
    const pricing = strictMock(PricingClient);
    const product = (usd: string) =>
      JSON.stringify({
        terms: {
          OnDemand: { t: { priceDimensions: { d: { unit: 'Hrs', pricePerUnit: { USD: usd } } } } },
        },
      });
    pricing
      .on(GetProductsCommand, { ServiceCode: 'AmazonEC2' })
      .resolves({ PriceList: [product('0.0140000000')] });
    pricing.on(GetProductsCommand, { ServiceCode: 'AmazonRDS' }).resolves({ PriceList: [] });
    pricing
      .on(GetProductsCommand, { ServiceCode: 'AmazonElastiCache' })
      .rejects(new Error('AccessDenied'));

    const { overrides, notes } = await livePrices(new TestAws(), testConfig());

    expect(overrides).toEqual({ ec2: 0.014 });
    expect(notes).toEqual([
      'AmazonRDS: no on-demand price for ap-northeast-2 db.t3.micro PostgreSQL Single-AZ',
      'AmazonElastiCache: AccessDenied',
    ]);
    const ec2 = pricing.commandCalls(GetProductsCommand, { ServiceCode: 'AmazonEC2' })[0]!.args[0]
      .input;
    expect(ec2.Filters).toEqual(
      expect.arrayContaining([
        { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'ap-northeast-2' },
        { Type: 'TERM_MATCH', Field: 'instanceType', Value: 't3.micro' },
      ]),
    );
  });

  it('bills NAT gateway and ALB hours per started hour', () => {
    expect([startedHours(0), startedHours(0.1), startedHours(1), startedHours(1.01)]).toEqual([
      0, 1, 1, 2,
    ]);
    const p = REGION_PRICES['ap-northeast-2']!;
    const alb = (h: number) =>
      estimateCost(testConfig(), h).lines.find((l) => l.resource === 'Application Load Balancer')!;
    expect(alb(61 / 60).usd).toBeCloseTo(2 * alb(1).usdPerHour, 4);
    expect(alb(5 / 60).usd).toBeCloseTo(alb(1).usd, 4);
    // Billed per second: EC2 for 5 minutes is 5 minutes.
    const ec2 = estimateCost(testConfig(), 5 / 60).lines.find(
      (l) => l.resource === 'EC2 instances',
    )!;
    expect(ec2.usd).toBeCloseTo((2 * p.ec2['t3.micro']! * 5) / 60, 3);
  });

  it('a second trail in the account pays for management events', () => {
    const alone = estimateCost(testConfig());
    const second = estimateCost(testConfig(), undefined, {}, { otherTrails: 1 });
    const line = second.lines.find((l) => l.resource === 'CloudTrail management events');
    expect(alone.lines.find((l) => l.resource === 'CloudTrail management events')).toBeUndefined();
    expect(line?.usd).toBeCloseTo((20_000 / 100_000) * 2, 4);
    expect(second.total).toBeCloseTo(alone.total + line!.usd, 4);
  });

  it('"so far" counts only what exists', () => {
    const e = estimateCost(testConfig(), 0.5);
    const onlyNetwork = costSoFar(e, (id) => id === 'network.nat', testConfig().budget.hours);
    expect(onlyNetwork.lines.map((l) => l.resource)).toEqual([
      'NAT gateways',
      'Public IPv4 addresses',
    ]);
    const all = costSoFar(e, () => true, testConfig().budget.hours);
    expect(onlyNetwork.usd).toBeLessThan(all.usd);
    expect(costSoFar(e, () => false, 1).usd).toBe(0);
  });

  it('cost --live counts the other trails of the account (shadow copies included), not its own', async () => {
    const { CloudTrailClient, DescribeTrailsCommand } = await import('@aws-sdk/client-cloudtrail');
    const { strictMock, TestAws } = await import('../helpers/context.js');
    const { otherTrails } = await import('../../src/cost/live.js');
    const ct = strictMock(CloudTrailClient);
    ct.on(DescribeTrailsCommand, { includeShadowTrails: true }).resolves({
      trailList: [
        { Name: 'CloudMart-Audit-Trail' },
        { Name: 'org-trail', IsMultiRegionTrail: true },
      ],
    });
    expect(await otherTrails(new TestAws(), testConfig())).toEqual({ count: 1, notes: [] });
    ct.on(DescribeTrailsCommand).rejects(new Error('AccessDenied'));
    expect(await otherTrails(new TestAws(), testConfig())).toEqual({
      count: undefined,
      notes: ['cloudtrail: AccessDenied'],
    });
  });
});
