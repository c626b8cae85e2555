import { z } from 'zod';
import { configSchema } from './schema.js';

/** The config's JSON Schema, generated from the zod schema (input side: defaults are optional). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'cloudmart.config.yaml',
    description:
      'Config of cloudmart: the production CloudMart stack on AWS. Defaults are the seed values.',
  };
}
