/**
 * One fake cloud shared by several real cloudmart processes, as one AWS account is shared by
 * teammates on several machines: the test process holds the FakeCloud and answers every SDK
 * call the children send over HTTP (JSON, with bytes and dates tagged). Each child replaces the
 * SDK clients' `send` (aws-sdk-client-mock, as FakeCloud.install does) with a POST to it, so
 * both see the same S3 state object, the same lock and the same stack, in one simulated clock.
 *
 *   node --import tsx test/reliability/child-shared-cli.ts <url> up --yes --config …
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { awsError, FakeNotImplementedError } from '../helpers/fake-cloud/errors.js';
import type { FakeCloud, ServiceName } from '../helpers/fake-cloud/index.js';

/** A JSON form of SDK inputs and outputs: Uint8Array → {$bytes}, Date → {$date}. */
export function encode(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (typeof v !== 'function') out[k] = encode(v);
    return out;
  }
  return value;
}

export function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.$bytes === 'string') return new Uint8Array(Buffer.from(o.$bytes, 'base64'));
    if (typeof o.$date === 'string') return new Date(o.$date);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = decode(v);
    return out;
  }
  return value;
}

export interface CallRequest {
  pid: number;
  service: ServiceName;
  region: string;
  command: string;
  input: unknown;
  maxAttempts: number;
}

export interface SharedCloud {
  url: string;
  /** The calls each child process sent, by pid: `service.Command Key-or-name`. */
  callsBy: Map<number, Array<{ service: string; command: string; input: Record<string, unknown> }>>;
  close(): Promise<void>;
}

/** Serve `cloud` to child processes on 127.0.0.1. */
export async function serveCloud(cloud: FakeCloud): Promise<SharedCloud> {
  const callsBy: SharedCloud['callsBy'] = new Map();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CallRequest;
        const input = decode(call.input) as Record<string, unknown>;
        const list = callsBy.get(call.pid) ?? [];
        list.push({ service: call.service, command: call.command, input });
        callsBy.set(call.pid, list);
        let body: unknown;
        try {
          const out = (await cloud.send(
            call.service,
            call.region,
            call.command,
            input,
            call.maxAttempts,
          )) as Record<string, unknown>;
          const stream = out.Body as
            { transformToByteArray?: () => Promise<Uint8Array> } | undefined;
          const bytes = stream?.transformToByteArray
            ? await stream.transformToByteArray()
            : undefined;
          body = { ok: encode(bytes ? { ...out, Body: bytes } : out) };
        } catch (e) {
          const err = e as Error & { $metadata?: { httpStatusCode?: number } };
          body = {
            error: {
              name: err.name,
              message: err.message,
              status: err.$metadata?.httpStatusCode ?? 500,
              notImplemented: e instanceof FakeNotImplementedError,
            },
          };
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    callsBy,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** In a child: the answer of the shared cloud to one SDK call, or its error, as the SDK gives them. */
export async function remoteSend(url: string, call: Omit<CallRequest, 'pid'>): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    body: JSON.stringify({ ...call, pid: process.pid, input: encode(call.input) }),
  });
  const answer = (await res.json()) as {
    ok?: Record<string, unknown>;
    error?: { name: string; message: string; status: number; notImplemented: boolean };
  };
  if (answer.error) {
    if (answer.error.notImplemented) throw new Error(answer.error.message);
    throw awsError(call.service, answer.error.name, answer.error.message, answer.error.status);
  }
  const out = decode(answer.ok) as Record<string, unknown>;
  if (out.Body instanceof Uint8Array) {
    const bytes = out.Body;
    out.Body = {
      transformToString: (encoding: BufferEncoding = 'utf8') =>
        Promise.resolve(Buffer.from(bytes).toString(encoding)),
      transformToByteArray: () => Promise.resolve(new Uint8Array(bytes)),
    };
  }
  return out;
}
