import { createHash } from 'node:crypto';
import type { CertificateDetail } from '@aws-sdk/client-acm';
import type { ResourceRecordSet } from '@aws-sdk/client-route-53';
import { ignoreNotFound, isDependencyViolation, isNotFound } from '../../aws/errors.js';
import { STACK_TAG, STEP_TAG } from '../../aws/tags.js';
import { retryWhile, waitUntil } from '../../aws/wait.js';
import type { Config } from '../../config/schema.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { names } from '../names.js';
import { STEP, type CertificatesOutputs } from '../outputs.js';

const acmsdk = () => import('@aws-sdk/client-acm');
const r53sdk = () => import('@aws-sdk/client-route-53');

// ---------------------------------------------------------------------------------------------
// Route 53 helpers, shared with edge.dns
// ---------------------------------------------------------------------------------------------

/** Route 53 names end with a dot and compare case-insensitively. */
export const fqdn = (name: string): string => `${name.toLowerCase().replace(/\.$/, '')}.`;

/** `/hostedzone/Z123` → `Z123`. */
export const zoneIdOf = (id: string): string => id.replace(/^\/hostedzone\//, '');

/** Marks a hosted zone cloudmart created (set at creation, so a crash cannot lose it). */
export const zoneComment = (config: Config): string => `cloudmart:${config.stack}`;

/** The record set with exactly this name and type, if present. */
export async function readRecord(
  ctx: StepContext,
  zoneId: string,
  name: string,
  type: 'A' | 'AAAA' | 'CNAME',
): Promise<ResourceRecordSet | undefined> {
  const { ListResourceRecordSetsCommand } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  const out = await r53.send(
    new ListResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      StartRecordName: name,
      StartRecordType: type,
      MaxItems: 1,
    }),
  );
  const rr = out.ResourceRecordSets?.[0];
  return rr?.Name && fqdn(rr.Name) === fqdn(name) && rr.Type === type ? rr : undefined;
}

/** Wait for a Route 53 change to reach every name server. */
export async function waitInsync(ctx: StepContext, changeId: string): Promise<void> {
  const { GetChangeCommand } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  await waitUntil(
    ctx,
    async () => {
      const out = await r53.send(new GetChangeCommand({ Id: changeId }));
      const status = out.ChangeInfo?.Status ?? 'PENDING';
      return { done: status === 'INSYNC', status };
    },
    { what: `Route 53 change ${changeId}`, minDelayMs: 5_000, timeoutMs: 10 * 60_000 },
  );
}

interface Zone {
  id: string;
  name: string;
  /** cloudmart created it (its comment carries the marker). */
  ours: boolean;
}

/**
 * The public hosted zone for the domain: `dns.hostedZoneId`, else the closest zone whose name
 * is the domain or one of its parents (shop.example.com can live in example.com).
 */
export async function findHostedZone(ctx: StepContext): Promise<Zone | undefined> {
  const { GetHostedZoneCommand, ListHostedZonesByNameCommand } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  const { domain, hostedZoneId } = ctx.config.dns;
  const marker = zoneComment(ctx.config);
  if (hostedZoneId) {
    try {
      const out = await r53.send(new GetHostedZoneCommand({ Id: hostedZoneId }));
      const z = out.HostedZone;
      if (!z?.Id) return undefined;
      return { id: zoneIdOf(z.Id), name: z.Name ?? '', ours: z.Config?.Comment === marker };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
  if (!domain) return undefined;
  const labels = domain.split('.');
  for (let i = 0; i <= labels.length - 2; i++) {
    const candidate = fqdn(labels.slice(i).join('.'));
    const out = await r53.send(
      new ListHostedZonesByNameCommand({ DNSName: candidate, MaxItems: 10 }),
    );
    const z = out.HostedZones?.find((h) => h.Name === candidate && !h.Config?.PrivateZone);
    if (z?.Id) return { id: zoneIdOf(z.Id), name: candidate, ours: z.Config?.Comment === marker };
  }
  return undefined;
}

async function ensureHostedZone(ctx: StepContext): Promise<Zone> {
  const found = await findHostedZone(ctx);
  if (found) return found;
  const domain = ctx.config.dns.domain!;
  if (!ctx.config.dns.createHostedZone || ctx.config.dns.hostedZoneId) {
    throw new CloudmartError(
      'NOT_READY',
      ctx.config.dns.hostedZoneId
        ? `Route 53 hosted zone ${ctx.config.dns.hostedZoneId} (dns.hostedZoneId) does not exist`
        : `no public Route 53 hosted zone for ${domain} or a parent domain`,
      {
        hint: 'Set dns.hostedZoneId to your zone, or dns.createHostedZone: true to let cloudmart create one.',
      },
    );
  }
  const { CreateHostedZoneCommand, ChangeTagsForResourceCommand } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  ctx.progress(`Route 53 hosted zone ${domain}: creating`);
  const out = await r53.send(
    new CreateHostedZoneCommand({
      Name: domain,
      // The lookup by name above is the guard against a second zone; the reference only has
      // to be unique (Route 53 refuses one it has seen, even for a deleted zone).
      CallerReference: `cloudmart-${ctx.config.stack}-${ctx.now()}`,
      HostedZoneConfig: { Comment: zoneComment(ctx.config), PrivateZone: false },
    }),
  );
  const id = zoneIdOf(out.HostedZone!.Id!);
  // CreateHostedZone takes no tags; the comment above already marks it as ours.
  await r53.send(
    new ChangeTagsForResourceCommand({
      ResourceType: 'hostedzone',
      ResourceId: id,
      AddTags: ctx.tags.list(names.of(ctx.config, 'zone')),
    }),
  );
  const ns = out.DelegationSet?.NameServers ?? [];
  ctx.warn(
    `Created Route 53 hosted zone ${domain} (${id}). Delegate the domain to its name servers (${ns.join(', ')}) at your registrar, or the certificates stay pending validation.`,
  );
  return { id, name: fqdn(domain), ours: true };
}

// ---------------------------------------------------------------------------------------------
// ACM
// ---------------------------------------------------------------------------------------------

interface CertSpec {
  /** Which output it fills. */
  role: 'regional' | 'edge';
  region: string;
  name: string;
}

/** The regional certificate (ALB) and the us-east-1 one (CloudFront); one when they coincide. */
function certSpecs(config: Config): CertSpec[] {
  const regional = {
    role: 'regional' as const,
    region: config.region,
    name: names.of(config, 'cert'),
  };
  if (config.region === config.edgeRegion) return [regional];
  return [
    regional,
    { role: 'edge', region: config.edgeRegion, name: names.of(config, 'edge-cert') },
  ];
}

const subjectAlternativeNames = (domain: string) => [`*.${domain}`];

/** A certificate this stack requested in this region, found by its tags. */
async function findCertificate(ctx: StepContext, spec: CertSpec): Promise<string | undefined> {
  const { paginateListCertificates, ListTagsForCertificateCommand } = await acmsdk();
  const acm = await ctx.aws.get('acm', spec.region);
  const domain = ctx.config.dns.domain!;
  for await (const out of paginateListCertificates(
    { client: acm },
    { CertificateStatuses: ['PENDING_VALIDATION', 'ISSUED'], MaxItems: 100 },
  )) {
    for (const c of out.CertificateSummaryList ?? []) {
      if (c.DomainName !== domain || !c.CertificateArn) continue;
      const tags = await acm.send(
        new ListTagsForCertificateCommand({ CertificateArn: c.CertificateArn }),
      );
      const t = new Map((tags.Tags ?? []).map((x) => [x.Key, x.Value]));
      if (t.get(STACK_TAG) === ctx.config.stack && t.get(STEP_TAG) === STEP.certificates) {
        return c.CertificateArn;
      }
    }
  }
  return undefined;
}

/**
 * The validation record names other certificates of the account still use. ACM gives every
 * certificate for a domain in one account the same validation CNAME ("DNS validation": the
 * record stays valid for all of them, and renewals need it), so a record is only cloudmart's
 * to delete when no other certificate (in the stack's regions) names it.
 */
async function recordsInUse(ctx: StepContext, except: Set<string>): Promise<Set<string>> {
  const { paginateListCertificates } = await acmsdk();
  const used = new Set<string>();
  const regions = [...new Set(certSpecs(ctx.config).map((s) => s.region))];
  for (const region of regions) {
    const acm = await ctx.aws.get('acm', region);
    for await (const out of paginateListCertificates(
      { client: acm, pageSize: 100 },
      // The states in which a certificate still needs its record (renewal included).
      { CertificateStatuses: ['PENDING_VALIDATION', 'ISSUED', 'INACTIVE'] },
    )) {
      for (const c of out.CertificateSummaryList ?? []) {
        if (!c.CertificateArn || except.has(c.CertificateArn)) continue;
        const cert = await describeCertificate(ctx, region, c.CertificateArn);
        for (const o of cert?.DomainValidationOptions ?? []) {
          if (o.ResourceRecord?.Name) used.add(fqdn(o.ResourceRecord.Name));
        }
      }
    }
  }
  return used;
}

async function describeCertificate(
  ctx: StepContext,
  region: string,
  arn: string,
): Promise<CertificateDetail | undefined> {
  const { DescribeCertificateCommand } = await acmsdk();
  const acm = await ctx.aws.get('acm', region);
  return (await ignoreNotFound(acm.send(new DescribeCertificateCommand({ CertificateArn: arn }))))
    ?.Certificate;
}

async function ensureCertificate(ctx: StepContext, spec: CertSpec): Promise<string> {
  const found = await findCertificate(ctx, spec);
  if (found) return found;
  const { RequestCertificateCommand } = await acmsdk();
  const acm = await ctx.aws.get('acm', spec.region);
  const domain = ctx.config.dns.domain!;
  ctx.progress(`ACM certificate for ${domain} in ${spec.region}: requesting`);
  // The token makes the SDK's own retries of this request safe; across runs the tags (set in
  // the request itself) find the certificate. ACM tokens live one hour: alphanumeric, ≤ 32.
  const token = createHash('sha256')
    .update(`${ctx.config.stack}|${spec.region}|${domain}|${ctx.now()}`)
    .digest('hex')
    .slice(0, 32);
  const out = await acm.send(
    new RequestCertificateCommand({
      DomainName: domain,
      SubjectAlternativeNames: subjectAlternativeNames(domain),
      ValidationMethod: 'DNS',
      IdempotencyToken: token,
      Tags: ctx.tags.list(spec.name),
    }),
  );
  if (!out.CertificateArn) throw new Error('RequestCertificate returned no ARN');
  return out.CertificateArn;
}

interface ValidationRecord {
  name: string;
  value: string;
}

/** The DNS validation CNAMEs; ACM fills them in a few seconds after the request. */
async function validationRecords(
  ctx: StepContext,
  region: string,
  arn: string,
): Promise<ValidationRecord[]> {
  let records: ValidationRecord[] = [];
  await waitUntil(
    ctx,
    async () => {
      const cert = await describeCertificate(ctx, region, arn);
      const options = cert?.DomainValidationOptions ?? [];
      const ready = options.length > 0 && options.every((o) => o.ResourceRecord?.Value);
      records = ready
        ? options.map((o) => ({ name: o.ResourceRecord!.Name!, value: o.ResourceRecord!.Value! }))
        : [];
      return { done: ready, status: 'waiting for the validation records' };
    },
    { what: `ACM certificate ${arn}`, minDelayMs: 2_000, timeoutMs: 5 * 60_000 },
  );
  return records;
}

function uniqueRecords(records: ValidationRecord[]): ValidationRecord[] {
  const byName = new Map<string, ValidationRecord>();
  for (const r of records) byName.set(fqdn(r.name), r);
  return [...byName.values()];
}

/** UPSERT the validation CNAMEs that are missing or different; returns the change id if any. */
async function upsertValidationRecords(
  ctx: StepContext,
  zoneId: string,
  records: ValidationRecord[],
): Promise<string | undefined> {
  const { ChangeResourceRecordSetsCommand } = await r53sdk();
  const r53 = await ctx.aws.get('route53');
  const changes = [];
  for (const r of records) {
    const live = await readRecord(ctx, zoneId, r.name, 'CNAME');
    if (live?.ResourceRecords?.some((x) => fqdn(x.Value ?? '') === fqdn(r.value))) continue;
    changes.push({
      Action: 'UPSERT' as const,
      ResourceRecordSet: {
        Name: r.name,
        Type: 'CNAME' as const,
        TTL: 300,
        ResourceRecords: [{ Value: r.value }],
      },
    });
  }
  if (changes.length === 0) return undefined;
  ctx.progress(`Route 53: writing ${changes.length} ACM validation record(s)`);
  const out = await r53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zoneId,
      ChangeBatch: {
        Comment: `cloudmart ${ctx.config.stack}: ACM DNS validation`,
        Changes: changes,
      },
    }),
  );
  return out.ChangeInfo?.Id;
}

/** What teardown may find in the state file (every field optional: it may be partial). */
interface PreviousOutputs {
  hostedZoneId?: string;
  hostedZoneCreated?: boolean;
  regionalCertificateArn?: string;
  edgeCertificateArn?: string;
  validationRecords?: ValidationRecord[];
}

const FAILED = new Set(['FAILED', 'VALIDATION_TIMED_OUT', 'REVOKED', 'EXPIRED', 'INACTIVE']);

export const certificatesStep = defineStep<CertificatesOutputs>({
  id: STEP.certificates,
  phase: 1,
  title: 'ACM certificates and hosted zone',
  needs: [],
  enabled: (config) => config.dns.domain !== null,
  actions: [
    'route53:GetHostedZone',
    'route53:ListHostedZonesByName',
    'route53:CreateHostedZone',
    'route53:ChangeTagsForResource',
    'route53:DeleteHostedZone',
    'route53:ListResourceRecordSets',
    'route53:ChangeResourceRecordSets',
    'route53:GetChange',
    'acm:ListCertificates',
    'acm:ListTagsForCertificate',
    'acm:RequestCertificate',
    'acm:AddTagsToCertificate',
    'acm:DescribeCertificate',
    'acm:DeleteCertificate',
  ],
  describe: (config) => {
    const domain = config.dns.domain ?? '<domain>';
    return [
      config.dns.hostedZoneId
        ? `Route 53 hosted zone ${config.dns.hostedZoneId}`
        : `Route 53 hosted zone for ${domain}${config.dns.createHostedZone ? ' (created if missing)' : ' (must exist)'}`,
      ...certSpecs(config).map(
        (s) =>
          `ACM certificate ${domain} + *.${domain} in ${s.region} (${s.role === 'edge' ? 'CloudFront' : config.region === config.edgeRegion ? 'ALB and CloudFront' : 'ALB'}), DNS-validated`,
      ),
    ];
  },

  async create(ctx) {
    const domain = ctx.config.dns.domain!;
    const zone = await ensureHostedZone(ctx);
    const specs = certSpecs(ctx.config);
    const arns = await Promise.all(specs.map((s) => ensureCertificate(ctx, s)));

    const records = uniqueRecords(
      (await Promise.all(specs.map((s, i) => validationRecords(ctx, s.region, arns[i]!)))).flat(),
    );
    // Right after the request: ACM only validates once the CNAME resolves.
    await upsertValidationRecords(ctx, zone.id, records);

    await waitUntil(
      ctx,
      async () => {
        const certs = await Promise.all(
          specs.map((s, i) => describeCertificate(ctx, s.region, arns[i]!)),
        );
        const statuses = certs.map((c) => c?.Status ?? 'MISSING');
        const bad = statuses.find((s) => FAILED.has(s) || s === 'MISSING');
        return {
          done: statuses.every((s) => s === 'ISSUED'),
          ...(bad ? { failed: bad } : {}),
          status: `${statuses.join(', ')} (DNS validation through zone ${zone.id})`,
        };
      },
      { what: `ACM certificates for ${domain} to be issued`, timeoutMs: 45 * 60_000 },
    );

    const regional = arns[0]!;
    return {
      hostedZoneId: zone.id,
      domain,
      regionalCertificateArn: regional,
      edgeCertificateArn: arns[1] ?? regional,
      hostedZoneCreated: zone.ours,
      validationRecords: records,
    };
  },

  async verify(ctx) {
    const fix = 'cloudmart up --phase 1';
    const zone = await findHostedZone(ctx);
    const checks: Check[] = [
      {
        id: 'edge.certificates.zone',
        title: 'Route 53 hosted zone for the domain',
        criterion: 'other',
        status: zone ? 'pass' : 'fail',
        evidence: zone ? `${zone.id} ${zone.name}` : `no hosted zone for ${ctx.config.dns.domain}`,
        fix,
      },
    ];
    for (const spec of certSpecs(ctx.config)) {
      const arn = await findCertificate(ctx, spec);
      const cert = arn ? await describeCertificate(ctx, spec.region, arn) : undefined;
      checks.push({
        id: `edge.certificates.${spec.role}`,
        title: `ACM certificate in ${spec.region} issued`,
        criterion: 'encryption',
        status: cert?.Status === 'ISSUED' ? 'pass' : 'fail',
        evidence: cert
          ? `${arn} ${cert.Status}${cert.NotAfter ? ` until ${cert.NotAfter.toISOString().slice(0, 10)}` : ''}`
          : `no certificate for ${ctx.config.dns.domain} in ${spec.region}`,
        fix,
      });
      if (cert && zone) {
        const records = (cert.DomainValidationOptions ?? []).flatMap((o) =>
          o.ResourceRecord?.Name ? [o.ResourceRecord] : [],
        );
        const missing = [];
        for (const r of uniqueRecords(records.map((x) => ({ name: x.Name!, value: x.Value! })))) {
          const live = await readRecord(ctx, zone.id, r.name, 'CNAME');
          if (!live) missing.push(r.name);
        }
        checks.push({
          id: `edge.certificates.${spec.role}.validation-records`,
          title: `Validation records of the ${spec.region} certificate present (renewal)`,
          criterion: 'encryption',
          status: missing.length === 0 ? 'pass' : 'warn',
          evidence: missing.length === 0 ? 'all present' : `missing: ${missing.join(', ')}`,
          fix,
        });
      }
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteCertificateCommand } = await acmsdk();
    const {
      ChangeResourceRecordSetsCommand,
      DeleteHostedZoneCommand,
      ListResourceRecordSetsCommand,
    } = await r53sdk();
    const r53 = await ctx.aws.get('route53');
    const previous = ctx.previous as PreviousOutputs | undefined;
    const records: ValidationRecord[] = [...(previous?.validationRecords ?? [])];
    const ours = new Set<string>();

    for (const spec of certSpecs(ctx.config)) {
      const prevArn =
        spec.role === 'edge' ? previous?.edgeCertificateArn : previous?.regionalCertificateArn;
      const arn = (await findCertificate(ctx, spec)) ?? prevArn;
      if (!arn) continue;
      ours.add(arn);
      const cert = await describeCertificate(ctx, spec.region, arn);
      if (!cert) continue;
      for (const o of cert.DomainValidationOptions ?? []) {
        if (o.ResourceRecord?.Name && o.ResourceRecord.Value) {
          records.push({ name: o.ResourceRecord.Name, value: o.ResourceRecord.Value });
        }
      }
      const acm = await ctx.aws.get('acm', spec.region);
      try {
        // In use until the ALB listener / the distribution let go of it (ResourceInUseException).
        await retryWhile(
          ctx,
          () => acm.send(new DeleteCertificateCommand({ CertificateArn: arn })),
          {
            what: `deleting ACM certificate ${arn}`,
            when: isDependencyViolation,
            timeoutMs: 20 * 60_000,
          },
        );
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }

    const zone =
      (await findHostedZone(ctx)) ??
      (previous?.hostedZoneId
        ? { id: previous.hostedZoneId, name: '', ours: previous.hostedZoneCreated === true }
        : undefined);
    if (!zone) return;

    // In a zone cloudmart did not create, a validation record another certificate of the
    // account still uses stays: deleting it would break that certificate's renewal.
    const shared = zone.ours ? new Set<string>() : await recordsInUse(ctx, ours);
    const deletes = [];
    for (const r of uniqueRecords(records)) {
      if (shared.has(fqdn(r.name))) {
        ctx.warn(
          `Left the ACM validation record ${r.name} in hosted zone ${zone.id}: another certificate of this account for the same domain uses it (ACM shares one validation record per domain and account).`,
        );
        continue;
      }
      // DELETE must name the record exactly as it is now.
      const live = await readRecord(ctx, zone.id, r.name, 'CNAME');
      if (live) deletes.push({ Action: 'DELETE' as const, ResourceRecordSet: live });
    }
    if (deletes.length > 0) {
      await r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: zone.id,
          ChangeBatch: { Comment: `cloudmart ${ctx.config.stack}: teardown`, Changes: deletes },
        }),
      );
    }

    if (!zone.ours) return;
    const left = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.id }));
    const others = (left.ResourceRecordSets ?? []).filter(
      (r) =>
        !(r.Type === 'NS' || r.Type === 'SOA') ||
        (zone.name !== '' && fqdn(r.Name ?? '') !== fqdn(zone.name)),
    );
    if (others.length > 0 || left.IsTruncated) {
      ctx.warn(
        `Route 53 hosted zone ${zone.id} was created by cloudmart but still holds ${others.length} other record(s) (${others.map((r) => `${r.Name} ${r.Type}`).join(', ')}); it was kept.`,
      );
      return;
    }
    try {
      await r53.send(new DeleteHostedZoneCommand({ Id: zone.id }));
    } catch (e) {
      if (isNotFound(e)) return;
      if (isDependencyViolation(e)) {
        ctx.warn(`Route 53 hosted zone ${zone.id} is not empty; it was kept.`);
        return;
      }
      throw e;
    }
  },
});
