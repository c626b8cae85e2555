import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CloudmartError } from '../../errors.js';

/**
 * The app instances' bootstrap, as pure functions: the user data script, the CloudWatch agent
 * config, and reading the reference backend that the script carries. No AWS call here; the
 * launch template step feeds these and puts the result in the template.
 *
 * The contract with the backend (backend/src/server.js): it reads exactly the variables of
 * APP_ENV_KEYS, appends JSON lines to LOG_FILE and verifies the DB's TLS certificate with
 * DB_CA_FILE. Secrets never enter the user data: the service fetches them from Secrets
 * Manager at every start into a root-only file under /run.
 */

/**
 * The Node.js major version the instances run, from Amazon Linux 2023's namespaced packages
 * (`nodejs24`, `/usr/bin/node-24`, `npm-24`: https://docs.aws.amazon.com/linux/al2023/ug/nodejs.html).
 * Node.js 20 reached end of life on 2026-04-30; 24 is an LTS line supported until 2028-04-30.
 */
export const NODE_MAJOR = 24;

/**
 * How long an app instance takes from launch to answering its health check, estimated for a
 * t3.micro on Amazon Linux 2023 (not measured on AWS here): boot to cloud-init ~40 s, dnf
 * installs Node.js and the CloudWatch agent ~60 s, `npm ci` of three locked dependencies
 * ~40 s, the RDS CA, the agent and the app's start ~20 s; rounded up to 3 minutes.
 */
export const BOOT_ESTIMATE_SECONDS = 180;

/** EC2 refuses user data above 16 KB (before base64): the limit applies to the gzip payload. */
export const USER_DATA_LIMIT = 16_384;
export const LOG_FILE = '/var/log/cloudmart/app.log';
export const RDS_CA_FILE = '/etc/cloudmart/rds-ca.pem';
export const RDS_CA_URL = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';
/** The root-only file the service's environment is written to before every start. */
export const ENV_FILE = '/run/cloudmart/app.env';
export const APP_DIR = '/opt/cloudmart/app';
export const SERVICE = 'cloudmart';
/** A comment line carrying a digest of what the script does, so a template diff ignores gzip noise. */
export const DIGEST_MARKER = '# cloudmart-digest: ';

/** The environment the backend reads, nothing more. */
export const APP_ENV_KEYS = [
  'PORT',
  'DB_ENGINE',
  'DB_HOST',
  'DB_PORT',
  'DB_NAME',
  'DB_USER',
  'DB_PASSWORD',
  // The managed secret and the region, for the backend to read the password again when RDS
  // rotates it (every 7 days): an ARN, not a secret.
  'DB_SECRET_ARN',
  'AWS_REGION',
  'DB_CA_FILE',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_TLS',
  'REDIS_AUTH_TOKEN',
  'LOG_FILE',
] as const;

/** The backend directory shipped with cloudmart: ../../../backend from src/ or dist/ alike. */
export const BACKEND_DIR = new URL('../../../backend/', import.meta.url);

export interface BackendFile {
  /** Relative to the backend directory, with forward slashes: `src/server.js`, `package.json`. */
  path: string;
  content: Buffer;
}

export interface UserDataOptions {
  region: string;
  /** `/cloudmart/<stack>`: the SSM parameters app.settings writes. */
  parameterPrefix: string;
  /** The SSM parameter holding the CloudWatch agent config. */
  agentParameter: string;
  /**
   * The agent config's text as written to that parameter. Instances read it once, at boot: its
   * digest in the script makes a changed config a new launch template version, which the
   * group's instance refresh rolls out (the parameter's name alone would not change the script).
   */
  agentConfig: string;
  /** A container image to run instead of the reference backend (config.app.image). */
  image: string | null;
  /** The reference backend's files (ignored when `image` is set). */
  files: BackendFile[];
}

const SAFE_PATH = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const SAFE_IMAGE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//;

/**
 * Read `src/**\/*.js`, `package.json` and `package-lock.json` of the backend at create time:
 * the instances install exactly the locked dependencies (`npm ci`). Throws a clear error when
 * the backend or its lockfile is not there (a cloudmart install without its `backend/`).
 */
export async function readBackendFiles(dir: URL = BACKEND_DIR): Promise<BackendFile[]> {
  let entries: string[];
  try {
    entries = (await readdir(new URL('src/', dir), { recursive: true }))
      .map((p) => p.split('\\').join('/'))
      .filter((p) => p.endsWith('.js'))
      .sort();
  } catch (e) {
    throw new CloudmartError(
      'USAGE',
      `Cannot read the reference backend in ${dir.pathname}: ${(e as Error).message}`,
      {
        cause: e,
        hint: 'Reinstall cloudmart, or set app.image to run your own container image.',
      },
    );
  }
  if (!entries.includes('server.js')) {
    throw new CloudmartError(
      'USAGE',
      `The reference backend in ${dir.pathname} has no src/server.js`,
      { hint: 'Reinstall cloudmart, or set app.image to run your own container image.' },
    );
  }
  const paths = [...entries.map((p) => `src/${p}`), 'package.json', 'package-lock.json'];
  return Promise.all(
    paths.map(async (path) => {
      try {
        return { path, content: await readFile(new URL(path, dir)) };
      } catch (e) {
        throw new CloudmartError(
          'USAGE',
          `Cannot read ${path} of the reference backend in ${dir.pathname}: ${(e as Error).message}`,
          {
            cause: e,
            hint: 'Reinstall cloudmart (the instances install the backend from its lockfile), or set app.image to run your own container image.',
          },
        );
      }
    }),
  );
}

/** The namespace the CloudWatch agent publishes to (the dashboard searches it). */
export const AGENT_NAMESPACE = 'CWAgent';

/**
 * The CPU line the agent publishes for the whole instance: with `totalcpu` (default true) and
 * no `resources: ["*"]` (what turns on per-core metrics), the agent's cpu input emits one series
 * per instance, tagged `cpu="cpu-total"`. That tag is a dimension like any other: the series is
 * `{AutoScalingGroupName, InstanceId, cpu}` once append_dimensions apply (sources:
 * aws/amazon-cloudwatch-agent translator/translate/metrics/metrics_collect/cpu/rulePerCpu.go
 * (percpu only from resources "*"), ruleTotalCpu.go (totalcpu defaults to true),
 * ruleReportActive.go (a measurement ending in "active" turns on report_active); the telegraf
 * cpu input it runs tags every point with `cpu`; "Manually create or edit the CloudWatch agent
 * configuration file",
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Agent-Configuration-File-Details.html).
 */
export const AGENT_CPU_TOTAL = 'cpu-total';

/** The CloudWatch agent config: the app's log file, CPU, memory and disk metrics per ASG. */
export function agentConfig(options: { logGroup: string }): Record<string, unknown> {
  return {
    agent: { metrics_collection_interval: 60, run_as_user: 'root' },
    logs: {
      logs_collected: {
        files: {
          collect_list: [
            {
              file_path: LOG_FILE,
              log_group_name: options.logGroup,
              log_stream_name: '{instance_id}',
              timezone: 'UTC',
            },
          ],
        },
      },
    },
    metrics: {
      namespace: AGENT_NAMESPACE,
      append_dimensions: {
        // Placeholders the agent fills in on the instance (not JS template literals).
        AutoScalingGroupName: '${aws:AutoScalingGroupName}',
        InstanceId: '${aws:InstanceId}',
      },
      // One series per group, which the dashboard and alarms read without knowing instance ids.
      aggregation_dimensions: [['AutoScalingGroupName']],
      metrics_collected: {
        // The whole instance's busy time (100 - idle), one series per instance (no per-core).
        cpu: { measurement: ['cpu_usage_active'], totalcpu: true },
        mem: { measurement: ['mem_used_percent'] },
        disk: {
          measurement: ['disk_used_percent'],
          resources: ['/'],
          ignore_file_system_types: ['sysfs', 'devtmpfs', 'tmpfs', 'overlay'],
        },
      },
    },
  };
}

/** Deterministic gzip + base64, wrapped at 76 columns (the OS byte is pinned so any host gives the same bytes). */
function pack(content: Buffer): string {
  return (
    gzip(content)
      .toString('base64')
      .match(/.{1,76}/g)
      ?.join('\n') ?? ''
  );
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The Python helper that writes the service's environment; it never prints a value. */
function envWriter(o: UserDataOptions): string {
  return `#!/usr/bin/python3
# Writes the CloudMart backend's environment: settings from SSM, the DB password and the
# Redis AUTH token from Secrets Manager. Runs as root before every start; prints no value.
import json, os, subprocess, sys

REGION = ${JSON.stringify(o.region)}
PREFIX = ${JSON.stringify(o.parameterPrefix)}
OUT = ${JSON.stringify(ENV_FILE)}

def aws(*args):
    out = subprocess.run(['aws', '--region', REGION, '--output', 'json', *args],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)

params = {p['Name'][len(PREFIX):]: p['Value'] for p in
          aws('ssm', 'get-parameters-by-path', '--path', PREFIX, '--recursive')['Parameters']}

def param(name):
    if name not in params:
        sys.exit('cloudmart-env: SSM parameter %s%s is missing' % (PREFIX, name))
    return params[name]

def secret(arn):
    s = aws('secretsmanager', 'get-secret-value', '--secret-id', arn)['SecretString']
    try:
        v = json.loads(s)
    except ValueError:
        return {'password': s}
    # A JSON object (RDS's managed secret) or the bare value (the Redis AUTH token).
    return v if isinstance(v, dict) else {'password': s}

def pick(d, what, *keys):
    for k in keys:
        if d.get(k):
            return str(d[k])
    sys.exit('cloudmart-env: the %s secret has none of the keys %s' % (what, ', '.join(keys)))

db_arn = param('/db/secret-arn')
db = secret(db_arn)
cache = secret(param('/redis/secret-arn'))
env = {
    'PORT': param('/app/port'),
    'DB_ENGINE': param('/db/engine'),
    'DB_HOST': param('/db/endpoint'),
    'DB_PORT': param('/db/port'),
    'DB_NAME': param('/db/name'),
    'DB_USER': str(db.get('username') or param('/db/username')),
    'DB_PASSWORD': pick(db, 'database', 'password'),
    'DB_SECRET_ARN': db_arn,
    'AWS_REGION': REGION,
    'DB_CA_FILE': ${JSON.stringify(RDS_CA_FILE)},
    'REDIS_HOST': param('/redis/endpoint'),
    'REDIS_PORT': param('/redis/port'),
    'REDIS_TLS': '1',
    'REDIS_AUTH_TOKEN': pick(cache, 'Redis', 'authToken', 'AUTH_TOKEN', 'auth_token', 'token', 'password'),
    'LOG_FILE': ${JSON.stringify(LOG_FILE)},
}

def quote(v):
    for c in '\\\\"$\`':
        v = v.replace(c, '\\\\' + c)
    return '"' + v + '"'

os.makedirs(os.path.dirname(OUT), mode=0o700, exist_ok=True)
tmp = OUT + '.tmp'
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, 'w') as f:
    for k, v in env.items():
        f.write('%s=%s\\n' % (k, quote(v)))
os.replace(tmp, OUT)
`;
}

function serviceUnit(o: UserDataOptions): string {
  const common = [
    `ExecStartPre=+/usr/local/libexec/cloudmart-env`,
    // Read when each process starts, so ExecStart sees what ExecStartPre just wrote.
    `EnvironmentFile=-${ENV_FILE}`,
    'Restart=always',
    'RestartSec=5',
  ];
  if (o.image !== null) {
    const ecr = ECR_IMAGE.exec(o.image);
    const login = ecr
      ? [
          `ExecStartPre=/bin/sh -c 'aws ecr get-login-password --region ${ecr[2]} | docker login --username AWS --password-stdin ${o.image.split('/')[0]}'`,
        ]
      : [];
    const env = APP_ENV_KEYS.map((k) => `-e ${k}`).join(' ');
    return `[Unit]
Description=CloudMart backend (container)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target

[Service]
${common.join('\n')}
${login.join('\n')}${login.length ? '\n' : ''}# The first start pulls the image.
TimeoutStartSec=300
ExecStartPre=-/usr/bin/docker rm -f cloudmart-app
ExecStart=/usr/bin/docker run --rm --name cloudmart-app --network host -v /var/log/cloudmart:/var/log/cloudmart -v /etc/cloudmart:/etc/cloudmart:ro ${env} ${o.image}
ExecStop=/usr/bin/docker stop cloudmart-app

[Install]
WantedBy=multi-user.target
`;
  }
  return `[Unit]
Description=CloudMart backend
After=network-online.target
Wants=network-online.target

[Service]
User=cloudmart
Group=cloudmart
WorkingDirectory=${APP_DIR}
${common.join('\n')}
ExecStart=/usr/bin/node-${NODE_MAJOR} src/server.js
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
`;
}

function render(o: UserDataOptions, blob: (f: BackendFile) => string, digest: string): string {
  const container = o.image !== null;
  const packages = container
    ? 'docker amazon-cloudwatch-agent'
    : `nodejs${NODE_MAJOR} nodejs${NODE_MAJOR}-npm amazon-cloudwatch-agent`;
  const files = container
    ? ''
    : [
        `install -d -o cloudmart -g cloudmart ${[...new Set(o.files.map((f) => dirOf(f.path)))].map((d) => `${APP_DIR}${d}`).join(' ')}`,
        ...o.files.map((f) => `base64 -d <<'B64' | gunzip >${APP_DIR}/${f.path}\n${blob(f)}\nB64`),
        `chown -R cloudmart:cloudmart /opt/cloudmart`,
        // Exactly the locked dependency tree: npm ci refuses a lockfile out of step with package.json.
        `(cd ${APP_DIR} && retry runuser -u cloudmart -- env HOME=/opt/cloudmart npm-${NODE_MAJOR} ci --omit=dev --no-audit --no-fund)`,
      ].join('\n');
  return `#!/bin/bash
# CloudMart app instance bootstrap, generated by cloudmart (app.launch-template).
# No secret is in this script: the service reads them from Secrets Manager at every start.
${DIGEST_MARKER}${digest}
set -euo pipefail
retry() { for i in 1 2 3 4 5; do "$@" && return 0; sleep $((i * 5)); done; return 1; }

retry dnf install -y ${packages}
useradd --system --home-dir /opt/cloudmart --shell /sbin/nologin cloudmart || true
install -d -m 0755 /etc/cloudmart /opt/cloudmart /usr/local/libexec
install -d -m ${container ? '1777' : '0755 -o cloudmart -g cloudmart'} /var/log/cloudmart

# The app verifies the DB's TLS certificate against the RDS CA bundle.
curl -fsS --retry 5 --retry-delay 3 -o ${RDS_CA_FILE} ${RDS_CA_URL}
chmod 0644 ${RDS_CA_FILE}

# Monitoring must not keep the app from starting: a failed agent start is logged, not fatal.
# Agent config read at boot: sha256 ${sha256(o.agentConfig).slice(0, 16)}
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \\
  -c ssm:${o.agentParameter} || echo 'cloudmart: the CloudWatch agent did not start' >&2

cat >/usr/local/libexec/cloudmart-env <<'PY'
${envWriter(o)}PY
chmod 0700 /usr/local/libexec/cloudmart-env
${container ? 'systemctl enable --now docker' : files}

cat >/etc/systemd/system/${SERVICE}.service <<'UNIT'
${serviceUnit(o)}UNIT
systemctl daemon-reload
systemctl enable --now ${SERVICE}.service
`;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : `/${path.slice(0, i)}`;
}

function validate(o: UserDataOptions): void {
  if (o.image !== null && !SAFE_IMAGE.test(o.image)) {
    throw new CloudmartError('USAGE', `app.image "${o.image}" is not a container image reference`, {
      hint: 'Use a reference such as 123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/shop:1.2',
    });
  }
  if (o.image === null) {
    for (const f of o.files) {
      if (!SAFE_PATH.test(f.path) || f.path.split('/').includes('..')) {
        throw new CloudmartError('INTERNAL', `backend file name "${f.path}" cannot be shipped`);
      }
    }
    if (!o.files.some((f) => f.path === 'src/server.js')) {
      throw new CloudmartError('INTERNAL', 'the backend files have no src/server.js');
    }
  }
}

/** Deterministic gzip (level 9, no timestamp, the OS byte pinned so any host gives the same bytes). */
function gzip(content: Buffer): Buffer {
  const gz = gzipSync(content, { level: 9 });
  gz[9] = 3; // gzip header OS field: Unix, whichever OS built it
  return gz;
}

/**
 * The user data script and what the launch template carries: the script gzip-compressed and
 * base64-encoded. cloud-init uncompresses gzip user data before it runs it ("Content found to
 * be gzip compressed will be uncompressed", cloud-init's user-data formats), which keeps the
 * backend and its lockfile within EC2's 16 KB. Throws when even the compressed payload is over
 * it. The digest line changes exactly when the script's behaviour does (files, settings,
 * template), not with gzip output.
 */
export function renderUserData(o: UserDataOptions): {
  script: string;
  digest: string;
  userData: string;
} {
  validate(o);
  const digest = sha256(render(o, (f) => sha256(f.content), ''));
  const script = render(o, (f) => pack(f.content), digest);
  const payload = gzip(Buffer.from(script, 'utf8'));
  if (payload.length > USER_DATA_LIMIT) {
    throw new CloudmartError(
      'USAGE',
      `The instance user data is ${payload.length} bytes compressed (${Buffer.byteLength(script)} uncompressed), over EC2's ${USER_DATA_LIMIT}-byte limit: the backend in backend/src is too large to ship this way`,
      { hint: 'Shrink backend/src, or build a container image and set app.image.' },
    );
  }
  return { script, digest, userData: payload.toString('base64') };
}

/** The script of a (base64) user data, gzip-compressed or not. */
export function userDataScript(userDataBase64: string): string {
  const raw = Buffer.from(userDataBase64, 'base64');
  return (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
}

/** The digest line of a (base64) user data, or undefined when it was not written by cloudmart. */
export function userDataDigest(userDataBase64: string | undefined): string | undefined {
  if (!userDataBase64) return undefined;
  const text = userDataScript(userDataBase64);
  const line = text.split('\n').find((l) => l.startsWith(DIGEST_MARKER));
  return line?.slice(DIGEST_MARKER.length).trim();
}
