import { configJsonSchema } from '../../config/json-schema.js';
import type { Io } from '../io.js';
import { writeOutputFile } from '../output.js';

/** `schema`: the JSON Schema of the config, for editors (yaml-language-server). */
export async function schemaCommand(io: Io, opts: { output?: string }): Promise<number> {
  const text = JSON.stringify(configJsonSchema(), null, 2) + '\n';
  if (opts.output) {
    await writeOutputFile(opts.output, text, 'the JSON Schema');
    io.err(`JSON Schema written to ${opts.output}`);
  } else {
    io.out(text);
  }
  return 0;
}
