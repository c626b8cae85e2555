import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AwsClientFactory, type ServiceName } from '../../src/aws/clients.js';
import { main } from '../../src/cli/main.js';
import { announceTarget, SDK_SERVICE_IDS, serviceEndpoints } from '../../src/cli/runtime.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

const banner = (env: NodeJS.ProcessEnv, endpoint?: string, profile?: string) => {
  const io = recordingIo();
  const aws = new AwsClientFactory({ region: 'ap-northeast-2', endpoint });
  announceTarget(io, aws, { config: 'c.yaml', ...(profile ? { profile } : {}) }, env);
  return io.stderr.join('\n');
};

describe('the endpoint banner', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('knows the variable the SDK reads for every service cloudmart calls', async () => {
    const aws = new AwsClientFactory({ region: 'ap-northeast-2' });
    for (const [name, id] of Object.entries(SDK_SERVICE_IDS) as [ServiceName, string][]) {
      const client = await aws.get(name);
      const config = client.config as {
        serviceId?: string;
        serviceConfiguredEndpoint?: () => Promise<string | undefined>;
      };
      expect(config.serviceId, name).toBe(id);
      // The SDK's own resolution sends this service's requests to the variable we name.
      const url = `http://127.0.0.1:9/${name}`;
      // The documented rule: the service id upper-cased, spaces as underscores.
      const variable = `AWS_ENDPOINT_URL_${id.toUpperCase().replaceAll(' ', '_')}`;
      vi.stubEnv(variable, url);
      expect(serviceEndpoints().endpoints).toEqual([{ service: id, variable, url }]);
      expect(await config.serviceConfiguredEndpoint!(), name).toBe(url);
      vi.unstubAllEnvs();
    }
    await aws.destroy();
  });

  it('real AWS, with the profile, when nothing overrides an endpoint', () => {
    expect(banner({}, undefined, 'ops')).toBe(
      'Region ap-northeast-2; requests go to real AWS (profile ops).',
    );
  });

  it('names every AWS_ENDPOINT_URL_<SERVICE> the SDK would use, and only those of services cloudmart calls', () => {
    const text = banner({
      AWS_PROFILE: 'dev',
      AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9',
      AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: 'http://localhost:4566',
      AWS_ENDPOINT_URL_BEDROCK: 'http://localhost:1',
      AWS_ENDPOINT_URL_EC2: '',
    });
    expect(text.split('\n')).toEqual([
      'Region ap-northeast-2; requests go to real AWS (profile dev), except for these services, whose endpoints the environment sets (not real AWS):',
      '  Elastic Load Balancing v2 → http://localhost:4566 (AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2)',
      '  STS → http://127.0.0.1:9 (AWS_ENDPOINT_URL_STS)',
    ]);
  });

  it('says the service variables are ignored under AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true', () => {
    expect(
      banner({
        AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9',
        AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
      }),
    ).toBe(
      'Region ap-northeast-2; requests go to real AWS. AWS_ENDPOINT_URL_STS is ignored (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true).',
    );
  });

  it('AWS_ENDPOINT_URL goes to every client and beats the service variables', () => {
    expect(banner({ AWS_ENDPOINT_URL_S3: 'http://s3.local' }, 'http://localhost:4566')).toBe(
      'Region ap-northeast-2; requests go to the endpoint http://localhost:4566 (AWS_ENDPOINT_URL: an emulator, not real AWS). It overrides AWS_ENDPOINT_URL_S3 for every service.',
    );
  });

  it('verify prints it before the first call', async () => {
    const cloud = await new FakeCloud({ mode: 'instant' }).install();
    try {
      const dir = tempDir();
      const config = join(dir, 'cloudmart.config.yaml');
      writeFileSync(config, 'alerts:\n  email: ops@example.com\n');
      const io = recordingIo();
      // A stack recorded as built, so that verify has something to check.
      const state = join(dir, 's.json');
      await main(
        [
          'node',
          'cloudmart',
          'up',
          '--yes',
          '--step',
          'network.vpc',
          '--config',
          config,
          '--state',
          state,
        ],
        recordingIo(),
      );
      vi.stubEnv('AWS_ENDPOINT_URL_STS', 'http://127.0.0.1:9');
      await main(['node', 'cloudmart', 'verify', '--config', config, '--state', state], io);
      expect(io.stderr[0]).toContain('except for these services');
      expect(io.stderr[1]).toBe('  STS → http://127.0.0.1:9 (AWS_ENDPOINT_URL_STS)');
    } finally {
      cloud.uninstall();
    }
  });
});

describe('the client factory', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('uses path-style S3 URLs for an emulator, also when only AWS_ENDPOINT_URL_S3 is set', async () => {
    const { awsFactory } = await import('../../src/cli/runtime.js');
    const { testConfig } = await import('../helpers/context.js');
    const pathStyle = async (aws: AwsClientFactory) =>
      (await aws.get('s3')).config.forcePathStyle as boolean | undefined;
    vi.stubEnv('AWS_ENDPOINT_URL', '');
    vi.stubEnv('AWS_ENDPOINT_URL_S3', '');
    expect(await pathStyle(awsFactory({ config: 'c.yaml' }, testConfig()))).toBeFalsy();
    vi.stubEnv('AWS_ENDPOINT_URL_S3', 'http://localhost:4566');
    expect(await pathStyle(awsFactory({ config: 'c.yaml' }, testConfig()))).toBe(true);
    expect(
      await pathStyle(new AwsClientFactory({ region: 'ap-northeast-2', endpoint: 'http://x' })),
    ).toBe(true);
  });
});

describe('closing a session', () => {
  afterEach(() => vi.restoreAllMocks());

  it('releases the lock even when the last state write failed', async () => {
    const { openSession } = await import('../../src/cli/runtime.js');
    const { StateStore } = await import('../../src/state/store.js');
    const dir = tempDir();
    const config = join(dir, 'cloudmart.config.yaml');
    writeFileSync(config, readFileSync(join(process.cwd(), 'cloudmart.config.yaml'), 'utf8'));
    const io = recordingIo();
    const session = await openSession(io, { config }, 'up', { lock: true });
    const lock = session.store.lockPath;
    expect(existsSync(lock)).toBe(true);
    vi.spyOn(StateStore.prototype, 'flush').mockRejectedValue(new Error('SlowDown'));

    await expect(session.close()).rejects.toThrow('SlowDown');

    expect(existsSync(lock)).toBe(false);
  });
});
