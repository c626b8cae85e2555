import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import type { PriceOverrides } from './estimate.js';

/**
 * Refine the instance prices with the AWS Price List API (us-east-1 endpoint). Anything it
 * cannot find keeps the bundled price; errors are returned as notes, never thrown.
 */
export async function livePrices(
  aws: Aws,
  config: Config,
): Promise<{ overrides: PriceOverrides; notes: string[] }> {
  const { paginateGetProducts } = await import('@aws-sdk/client-pricing');
  const pricing = await aws.get('pricing');
  // One slot per lookup, so the notes come in the same order however the lookups finish.
  const slots: Array<string | undefined> = [];
  const lookup = async (
    service: string,
    filters: Record<string, string>,
  ): Promise<number | undefined> => {
    const slot = slots.push(undefined) - 1;
    const note = (text: string) => (slots[slot] = text);
    try {
      for await (const out of paginateGetProducts(
        { client: pricing },
        {
          ServiceCode: service,
          Filters: Object.entries(filters).map(([Field, Value]) => ({
            Type: 'TERM_MATCH',
            Field,
            Value,
          })),
          MaxResults: 10,
        },
      )) {
        for (const item of out.PriceList ?? []) {
          const price = onDemandHourly(typeof item === 'string' ? item : JSON.stringify(item));
          if (price !== undefined && price > 0) return price;
        }
      }
      note(`${service}: no on-demand price for ${Object.values(filters).join(' ')}`);
    } catch (e) {
      note(`${service}: ${(e as Error).message}`);
    }
    return undefined;
  };
  const [ec2, rds, elasticache] = await Promise.all([
    lookup('AmazonEC2', {
      regionCode: config.region,
      instanceType: config.app.instanceType,
      operatingSystem: 'Linux',
      tenancy: 'Shared',
      preInstalledSw: 'NA',
      capacitystatus: 'Used',
    }),
    lookup('AmazonRDS', {
      regionCode: config.region,
      instanceType: config.database.instanceClass,
      databaseEngine: config.database.engine === 'postgres' ? 'PostgreSQL' : 'MySQL',
      deploymentOption: 'Single-AZ',
    }),
    lookup('AmazonElastiCache', {
      regionCode: config.region,
      instanceType: config.cache.nodeType,
      cacheEngine: config.cache.engine === 'valkey' ? 'Valkey' : 'Redis',
    }),
  ]);
  return {
    overrides: {
      ...(ec2 !== undefined ? { ec2 } : {}),
      ...(rds !== undefined ? { rds } : {}),
      ...(elasticache !== undefined ? { elasticache } : {}),
    },
    notes: slots.filter((n): n is string => n !== undefined),
  };
}

/** The USD per hour of the first on-demand price dimension of a Price List product. */
export function onDemandHourly(product: string): number | undefined {
  try {
    const p = JSON.parse(product) as {
      terms?: {
        OnDemand?: Record<
          string,
          { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }
        >;
      };
    };
    for (const term of Object.values(p.terms?.OnDemand ?? {})) {
      for (const dim of Object.values(term.priceDimensions ?? {})) {
        if (dim.unit?.toLowerCase().startsWith('hr') && dim.pricePerUnit?.USD)
          return Number(dim.pricePerUnit.USD);
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * How many trails other than the stack's own deliver events in the stack's region (shadow
 * copies of multi-region trails included). With one or more, the stack's trail is an
 * additional copy of management events, which CloudTrail bills. undefined (with a note) when
 * it cannot be read.
 */
export async function otherTrails(
  aws: Aws,
  config: Config,
): Promise<{ count: number | undefined; notes: string[] }> {
  const { DescribeTrailsCommand } = await import('@aws-sdk/client-cloudtrail');
  try {
    const ct = await aws.get('cloudtrail');
    const out = await ct.send(new DescribeTrailsCommand({ includeShadowTrails: true }));
    const others = (out.trailList ?? []).filter((t) => t.Name !== config.security.trailName);
    return { count: others.length, notes: [] };
  } catch (e) {
    return { count: undefined, notes: [`cloudtrail: ${(e as Error).message}`] };
  }
}
