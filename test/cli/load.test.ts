import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

const run = async (args: string[], io = recordingIo()) => ({
  code: await main(['node', 'cloudmart', ...args], io),
  io,
});

let server: Server;
let port: number;
let paths: string[];

beforeEach(async () => {
  paths = [];
  server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    res.end('[]');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A state file in which app.alb is done and its DNS name is the local server. */
function stateWithAlb(dir: string, dnsName: string): string {
  const file = join(dir, 'state.json');
  const at = new Date().toISOString();
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      stack: 'cloudmart',
      region: 'ap-northeast-2',
      createdAt: at,
      updatedAt: at,
      steps: {
        'app.alb': {
          status: 'done',
          attempts: 1,
          outputs: {
            loadBalancerArn:
              'arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/cloudmart-alb/1',
            loadBalancerDimension: 'app/cloudmart-alb/1',
            dnsName,
            canonicalHostedZoneId: 'Z1',
            targetGroupArn: 'arn:tg',
            targetGroupDimension: 'targetgroup/cloudmart-tg/1',
            listenerArns: [],
            httpsEnabled: false,
          },
        },
      },
      runs: [],
      results: {},
    }),
  );
  return file;
}

describe('cloudmart load', () => {
  it('--url with --json prints one figures object and exits 0, with no config and no AWS', async () => {
    const dir = tempDir();
    const { code, io } = await run([
      'load',
      '--url',
      `http://127.0.0.1:${port}`,
      '--requests',
      '100',
      '--concurrency',
      '5',
      '--json',
      '--config',
      join(dir, 'missing.yaml'),
    ]);
    expect(code).toBe(0);
    expect(io.stdout).toHaveLength(1);
    const figures = JSON.parse(io.stdout[0]!);
    expect(figures).toEqual(
      expect.objectContaining({
        requests: 100,
        errors: 0,
        non2xx: 0,
        rps: expect.any(Number),
        average: expect.any(Number),
        p50: expect.any(Number),
        p95: expect.any(Number),
        p99: expect.any(Number),
      }),
    );
    expect(figures.p50).toBeLessThanOrEqual(figures.p95);
    expect(figures.p95).toBeLessThanOrEqual(figures.p99);
    // The seed's path is used when the URL has none.
    expect(paths.length).toBeGreaterThanOrEqual(100);
    expect(new Set(paths)).toEqual(new Set(['/api/products']));
    expect(io.stderr.join('\n')).toContain('not recorded');
  });

  it('prints rps, latency percentiles, errors and the histogram for people', async () => {
    const dir = tempDir();
    const { code, io } = await run([
      'load',
      '--url',
      `http://127.0.0.1:${port}/api/products`,
      '--requests',
      '50',
      '--concurrency',
      '5',
      '--state',
      join(dir, 'none.json'),
    ]);
    expect(code).toBe(0);
    const out = io.stdout.join('\n');
    expect(out).toContain('Requests/s');
    expect(out).toMatch(/avg [\d.]+ {2}p50 [\d.]+ {2}p95 [\d.]+ {2}p99 [\d.]+/);
    expect(out).toContain('Errors       0');
    expect(out).toContain('one connection per request');
    expect(out).toMatch(/Requests\/s {3}[\d.]+ \(50 responses ÷ [\d.]+ s\)/);
    expect(out).toContain('Latency histogram');
    expect(out).toContain('✔ Average < 500 ms');
    expect(out).toContain('✔ P95 < 1 s');
  });

  it('without --url tests the ALB from the state and records the result there', async () => {
    const dir = tempDir();
    const state = stateWithAlb(dir, `127.0.0.1:${port}`);
    const { code, io } = await run([
      'load',
      '--state',
      state,
      '--requests',
      '100',
      '--concurrency',
      '5',
      '--json',
    ]);
    expect(code).toBe(0);
    expect(new Set(paths)).toEqual(new Set(['/api/products']));
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(saved.results.load).toEqual(
      expect.objectContaining({
        url: `http://127.0.0.1:${port}/api/products`,
        requests: 100,
        concurrency: 5,
        errors: 0,
        non2xx: 0,
        at: expect.any(String),
      }),
    );
    expect(saved.results.load.p95).toBe(JSON.parse(io.stdout[0]!).p95);
    expect(existsSync(`${state}.lock`)).toBe(false);
  });

  it('a lock held by a live run on another machine: the result is not recorded, the hint names "load" with --force-unlock, which load accepts and records with', async () => {
    const dir = tempDir();
    const state = stateWithAlb(dir, `127.0.0.1:${port}`);
    const lock = JSON.stringify({
      pid: 1,
      host: 'laptop-2',
      user: 'bob',
      command: 'up',
      startedAt: '2026-12-07T22:00:00.000Z',
    });
    writeFileSync(`${state}.lock`, lock);
    const args = ['load', '--state', state, '--requests', '20', '--concurrency', '2'];
    const refused = await run(args);
    expect(refused.io.text()).toContain('The result is not recorded');
    expect(refused.io.text()).toContain('run "cloudmart load" again with --force-unlock');
    expect(JSON.parse(readFileSync(state, 'utf8')).results).toEqual({});
    expect(readFileSync(`${state}.lock`, 'utf8')).toBe(lock);
    const forced = await run([...args, '--force-unlock']);
    expect(forced.code, forced.io.text()).toBe(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).results.load).toMatchObject({ requests: 20 });
    expect(existsSync(`${state}.lock`)).toBe(false);
  });

  it('does not record a --url run against another server in the stack state', async () => {
    const dir = tempDir();
    const state = stateWithAlb(dir, 'cloudmart-alb-1.ap-northeast-2.elb.amazonaws.com');
    const { code, io } = await run([
      'load',
      '--url',
      `http://127.0.0.1:${port}`,
      '--state',
      state,
      '--requests',
      '20',
      '--concurrency',
      '2',
      '--json',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).results.load).toBeUndefined();
    expect(io.stderr.join('\n')).toContain('--record');
  });

  it('without --url and without an ALB in the state says what to run (exit 2)', async () => {
    const { code, io } = await run(['load', '--state', join(tempDir(), 's.json')]);
    expect(code).toBe(2);
    expect(io.text()).toContain('cloudmart up --phase 1');
    expect(paths).toHaveLength(0);
  });

  it('--url without a scheme is a usage error (exit 2) that says what was meant', async () => {
    const { code, io } = await run(['load', '--url', `127.0.0.1:${port}`]);
    expect(code).toBe(2);
    expect(io.text()).toContain(`--url 127.0.0.1:${port} is not an http:// or https:// URL`);
    expect(io.text()).toContain(`Did you mean --url http://127.0.0.1:${port} ?`);
    expect(io.text()).not.toContain('Unexpected error');
    expect(paths).toHaveLength(0);
  });

  it('--requests below the default concurrency names both options (exit 2)', async () => {
    const { code, io } = await run([
      'load',
      '--url',
      `http://127.0.0.1:${port}`,
      '--requests',
      '50',
    ]);
    expect(code).toBe(2);
    expect(io.text()).toContain('--concurrency 100 is more than --requests 50');
    expect(io.text()).toContain('Pass --concurrency 50 or less');
    expect(paths).toHaveLength(0);
  });

  it('exits 1 with a clear message when nothing answers', async () => {
    const closed = `http://127.0.0.1:${port}`;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { code, io } = await run([
      'load',
      '--url',
      closed,
      '--requests',
      '5',
      '--concurrency',
      '1',
      '--config',
      join(tempDir(), 'missing.yaml'),
    ]);
    expect(code).toBe(1);
    expect(io.text()).toContain('No response from');
  });

  it('all-503 server: prints the failed verdicts with the reason and exits 1', async () => {
    const unavailable = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('{"error":"unavailable"}');
    });
    await new Promise<void>((resolve) => unavailable.listen(0, '127.0.0.1', resolve));
    try {
      const { code, io } = await run([
        'load',
        '--url',
        `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}/api/products`,
        '--requests',
        '40',
        '--concurrency',
        '4',
        '--config',
        join(tempDir(), 'missing.yaml'),
      ]);
      expect(code).toBe(1);
      const out = io.stdout.join('\n');
      expect(out).toContain('✖ Average < 500 ms: no successful response: 40 of 40 requests failed');
      expect(out).toContain('✖ P95 < 1 s: no successful response');
      expect(out).not.toContain('✔');
      expect(io.text()).toContain("misses the seed's criteria");
    } finally {
      unavailable.closeAllConnections();
      await new Promise((resolve) => unavailable.close(resolve));
    }
  });

  it('--keep-alive reuses connections like ab -k', async () => {
    let opened = 0;
    server.on('connection', () => opened++);
    const { code, io } = await run([
      'load',
      '--url',
      `http://127.0.0.1:${port}`,
      '--requests',
      '40',
      '--concurrency',
      '4',
      '--keep-alive',
      '--config',
      join(tempDir(), 'missing.yaml'),
    ]);
    expect(code).toBe(0);
    expect(opened).toBeLessThanOrEqual(4);
    expect(io.stdout.join('\n')).toContain('ab -k');
  });
});
