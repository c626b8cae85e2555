import type { Config } from '../config/schema.js';

/** Deterministic names, so a lost state file never hides a resource from adopt or destroy. */
export const names = {
  /** `<stack>-<suffix>`, e.g. cloudmart-vpc. */
  of: (config: Config, suffix: string): string => `${config.stack}-${suffix}`,
  /** SSM parameters the instances read: /cloudmart/<stack>/… */
  parameterPrefix: (config: Config): string => `/cloudmart/${config.stack}`,
  /** Secrets Manager names: cloudmart/<stack>/… */
  secretPrefix: (config: Config): string => `cloudmart/${config.stack}`,
  /**
   * Globally unique bucket names: prefix, account and region, lower case, at most 63 chars.
   */
  bucket: (prefix: string, account: string, region: string): string =>
    `${prefix}-${account}-${region}`.toLowerCase().slice(0, 63).replace(/-+$/, ''),
};
