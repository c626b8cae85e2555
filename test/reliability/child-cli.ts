/**
 * A real cloudmart process for the SIGKILL tests: loads the fake cloud from a file (which it
 * keeps mirroring after every mutating call), installs it, and runs the CLI's main() with the
 * arguments given, exactly as bin/cloudmart.js would.
 *
 *   node --import tsx test/reliability/child-cli.ts <cloud.json> up --yes --config … --state …
 */
import { processIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';

const [cloudFile, ...args] = process.argv.slice(2);
if (!cloudFile) {
  process.stderr.write('usage: child-cli.ts <cloud.json> <cloudmart arguments…>\n');
  process.exit(2);
}
const cloud = await FakeCloud.loadFrom(cloudFile).install();
const code = await main(['node', 'cloudmart', ...args], processIo());
cloud.uninstall();
process.exitCode = code;
