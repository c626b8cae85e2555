import { writeFile } from 'node:fs/promises';
import { configJsonSchema } from '../../config/json-schema.js';
import type { Io } from '../io.js';

/** `schema`: the JSON Schema of the config, for editors (yaml-language-server). */
export async function schemaCommand(io: Io, opts: { output?: string }): Promise<number> {
  const text = JSON.stringify(configJsonSchema(), null, 2) + '\n';
  if (opts.output) {
    await writeFile(opts.output, text);
    io.err(`JSON Schema written to ${opts.output}`);
  } else {
    io.out(text);
  }
  return 0;
}
