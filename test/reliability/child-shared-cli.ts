/**
 * A real cloudmart process on the shared fake cloud (shared-cloud.ts): every SDK call goes to
 * the test process over HTTP, so several such processes share one account, one S3 state and one
 * lock, as teammates on several machines do.
 *
 *   node --import tsx test/reliability/child-shared-cli.ts <url> up --yes --config … --state …
 */
import { processIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { installSend } from '../helpers/fake-cloud/index.js';
import { remoteSend } from './shared-cloud.js';

const [url, ...args] = process.argv.slice(2);
if (!url) {
  process.stderr.write('usage: child-shared-cli.ts <url> <cloudmart arguments…>\n');
  process.exit(2);
}
const restore = await installSend((service, region, command, input, maxAttempts) =>
  remoteSend(url, { service, region, command, input, maxAttempts }),
);
const code = await main(['node', 'cloudmart', ...args], processIo());
restore();
// As bin/cloudmart.js: exit once the output is flushed (idle keep-alive sockets must not linger).
process.stdout.write('', () => process.exit(code));
