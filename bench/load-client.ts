/**
 * One trial of cloudmart's load runner for `bench/load.ts`, in a process of its own so the
 * bench can pin it to a CPU (as it pins `ab`): `runLoadTest` (what `cloudmart load` runs) once
 * to warm up (JIT, sockets; not counted), then once measured. Prints one JSON line:
 * `{"rps":…,"errors":…,"non2xx":…,"cpuUsPerRequest":…}`.
 *
 *   node --import tsx bench/load-client.ts <url> <requests> <concurrency> <close|keepalive> <warm-up>
 */
import { runLoadTest } from '../src/load/load-test.js';

const [url, requests, concurrencyArg, mode, warmup] = process.argv.slice(2);
if (!url || !requests || !concurrencyArg || (mode !== 'close' && mode !== 'keepalive') || !warmup) {
  process.stderr.write(
    'usage: load-client.ts <url> <requests> <concurrency> <close|keepalive> <warm-up requests>\n',
  );
  process.exit(2);
}
const keepAlive = mode === 'keepalive';
const concurrency = Number(concurrencyArg);
await runLoadTest({ url, requests: Number(warmup), concurrency, keepAlive });
const cpu = process.cpuUsage();
const r = await runLoadTest({ url, requests: Number(requests), concurrency, keepAlive });
const used = process.cpuUsage(cpu);
process.stdout.write(
  `${JSON.stringify({
    rps: r.rps,
    errors: r.errors,
    non2xx: r.non2xx,
    cpuUsPerRequest: (used.user + used.system) / Number(requests),
  })}\n`,
);
