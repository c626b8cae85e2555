import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AwsClientFactory, DEFAULT_TIMEOUTS } from '../../src/aws/clients.js';
import { explainAwsError } from '../../src/aws/errors.js';
import { main } from '../../src/cli/main.js';
import { CloudmartError } from '../../src/errors.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

/**
 * A real server on 127.0.0.1 that accepts every connection and never answers: what a firewall
 * dropping packets, or a stuck emulator, looks like to the SDK.
 */
async function silentServer(): Promise<{ url: string; connections: () => number; close(): void }> {
  const sockets: Socket[] = [];
  let count = 0;
  const server: Server = createServer((s) => {
    count++;
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const until = async (pred: () => boolean) => {
  while (!pred()) await new Promise((r) => setTimeout(r, 10));
};

describe('AWS calls never hang', () => {
  let server: Awaited<ReturnType<typeof silentServer>>;
  beforeEach(async () => {
    server = await silentServer();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_PROFILE', '');
  });
  afterEach(() => {
    server.close();
    vi.unstubAllEnvs();
  });

  it('gives up on a silent endpoint within a minute by default, with connection and attempt timeouts', () => {
    expect(DEFAULT_TIMEOUTS.callMs).toBeLessThanOrEqual(60_000);
    expect(DEFAULT_TIMEOUTS.attemptMs).toBeLessThan(DEFAULT_TIMEOUTS.callMs);
    expect(DEFAULT_TIMEOUTS.connectMs).toBeLessThan(DEFAULT_TIMEOUTS.attemptMs);
  });

  it('a silent endpoint becomes an error naming the endpoint, with the fix', async () => {
    const aws = new AwsClientFactory({
      region: 'ap-northeast-2',
      endpoint: server.url,
      timeouts: { connectMs: 200, attemptMs: 300, callMs: 1_000 },
    });
    const e = await aws.accountId().then(
      () => undefined,
      (x: unknown) => x,
    );
    await aws.destroy();
    expect(e).toBeInstanceOf(CloudmartError);
    expect((e as CloudmartError).code).toBe('AWS_UNREACHABLE');
    expect((e as CloudmartError).message).toBe(
      `sts GetCallerIdentity got no answer from the endpoint ${server.url} (AWS_ENDPOINT_URL) within 1 s`,
    );
    expect((e as CloudmartError).hint).toMatch(/emulator .* is running .*unset AWS_ENDPOINT_URL/);
    expect(server.connections()).toBeGreaterThanOrEqual(1);
  });

  it('an abort ends a call in flight at once, without waiting for the timeouts', async () => {
    const controller = new AbortController();
    const aws = new AwsClientFactory({
      region: 'ap-northeast-2',
      endpoint: server.url,
      signal: controller.signal,
      // Longer than the test's own timeout: only the abort can end the call.
      timeouts: { connectMs: 60_000, attemptMs: 60_000, callMs: 60_000 },
    });
    const call = aws.accountId().then(
      () => undefined,
      (x: unknown) => x,
    );
    await until(() => server.connections() > 0);
    controller.abort();
    const e = await call;
    await aws.destroy();
    expect((e as Error).name).toBe('AbortError');
    expect(explainAwsError(e, 'Checking AWS credentials')).toMatchObject({
      code: 'INTERRUPTED',
      exitCode: 130,
    });
  });

  it('a refused connection names the endpoint and says what to do', async () => {
    const url = await closedPort();
    const aws = new AwsClientFactory({ region: 'ap-northeast-2', endpoint: url, maxAttempts: 1 });
    const e = await aws.accountId().then(
      () => undefined,
      (x: unknown) => x,
    );
    await aws.destroy();
    const explained = explainAwsError(e, 'Checking AWS credentials');
    expect(explained.code).toBe('AWS_UNREACHABLE');
    expect(explained.message).toContain(
      `cannot reach the endpoint ${url} (AWS_ENDPOINT_URL): the connection was refused`,
    );
    expect(explained.hint).toMatch(/Start the emulator at/);
  });

  it('a socket hang-up names the endpoint and says what to do', async () => {
    const rude = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(rude.address() as { port: number }).port}`;
    const aws = new AwsClientFactory({ region: 'ap-northeast-2', endpoint: url, maxAttempts: 1 });
    const e = await aws.accountId().then(
      () => undefined,
      (x: unknown) => x,
    );
    await aws.destroy();
    rude.close();
    const explained = explainAwsError(e, 'Checking AWS credentials');
    expect(explained.code).toBe('AWS_UNREACHABLE');
    expect(explained.message).toContain('the connection was closed before an answer');
  });

  it.each([
    ['up', '--yes'],
    ['destroy', '--yes'],
  ])(
    '%s against a silent endpoint: one Ctrl-C ends the call in flight and exits 130',
    async (...args) => {
      vi.stubEnv('AWS_ENDPOINT_URL', server.url);
      const dir = tempDir();
      const before = new Set(process.listeners('SIGINT'));
      const io = recordingIo();
      const run = main(['node', 'cloudmart', ...args, '--state', join(dir, 's.json')], io);
      await until(() => server.connections() > 0);
      const added = process.listeners('SIGINT').filter((l) => !before.has(l));
      expect(added).toHaveLength(1);
      added[0]!('SIGINT');
      // The default deadline is 50 s, longer than this test may take: only the abort ends it.
      const code = await run;
      expect(code, io.text()).toBe(130);
      expect(io.text()).toContain('Run the same command again to resume');
    },
    30_000,
  );
});
