/**
 * Offline checks of names AWS defines: instance types (EC2, RDS, ElastiCache) and the regions
 * where SNS sends SMS. They catch typos ("t3.mikro") before anything is sent to AWS; a real
 * type the price table does not know is caught by the cost check instead.
 */

/**
 * Instance sizes AWS uses across EC2, RDS (db.) and ElastiCache (cache.): nano to 48xlarge
 * and metal (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html).
 */
const SIZE = /^(nano|micro|small|medium|large|xlarge|\d{1,2}xlarge|metal(-\d{1,2}xl)?)$/;
/** A family and generation with options: t3, t3a, m7i-flex, c6gn, r7iz, x2iedn, u-6tb1. */
const FAMILY = /^([a-z]{1,3}\d{1,2}[a-z]{0,4}(-flex)?|u\d?-\d+tb\d)$/;

/** Whether `type` (after the prefix: "db.", "cache." or none) is shaped like an instance type. */
export function isInstanceTypeName(type: string, prefix = ''): boolean {
  if (!type.startsWith(prefix)) return false;
  const [family, size, ...rest] = type.slice(prefix.length).split('.');
  return (
    rest.length === 0 &&
    family !== undefined &&
    size !== undefined &&
    FAMILY.test(family) &&
    SIZE.test(size)
  );
}

/**
 * Regions where Amazon SNS sends SMS messages. Seoul (ap-northeast-2), the seed's region, is
 * not one of them. https://docs.aws.amazon.com/sns/latest/dg/sns-supported-regions-countries.html
 */
export const SNS_SMS_REGIONS: readonly string[] = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'af-south-1',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-northeast-1',
  'ap-northeast-3',
  'ca-central-1',
  'ca-west-1',
  'eu-central-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-south-1',
  'eu-north-1',
  'me-south-1',
  'me-central-1',
  'il-central-1',
  'sa-east-1',
];
