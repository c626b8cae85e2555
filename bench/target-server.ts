/**
 * The local HTTP server both load generators hit (cloudmart's runner and ApacheBench). It runs
 * in its own process so neither client shares an event loop with it. It answers every request
 * with a small product list, with Content-Length so `ab -k` can keep connections alive.
 * Prints its port on stdout, then serves until killed.
 */
import { createServer } from 'node:http';

const body = JSON.stringify({
  products: Array.from({ length: 5 }, (_, i) => ({
    id: i + 1,
    name: `Product ${i + 1}`,
    price: 1000 * (i + 1),
  })),
});
const length = Buffer.byteLength(body);

const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': length });
  res.end(body);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
