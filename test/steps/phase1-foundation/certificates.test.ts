import {
  ACMClient,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  ListCertificatesCommand,
  ListTagsForCertificateCommand,
  RequestCertificateCommand,
} from '@aws-sdk/client-acm';
import {
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHostedZoneCommand,
  DeleteHostedZoneCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../../src/config/schema.js';
import type { Outputs } from '../../../src/engine/step.js';
import { certificatesStep } from '../../../src/steps/phase1-foundation/certificates.js';
import { awsError, testConfig, testContext } from '../../helpers/context.js';
import { looseMock, mutating, type LooseStub } from './edge-test-utils.js';

const DOMAIN = 'shop.example.com';
const CNAME = { Name: '_abc.shop.example.com.', Type: 'CNAME', Value: '_def.acm-validations.aws.' };
const OUR_TAGS = (name: string) => [
  { Key: 'Name', Value: name },
  { Key: 'cloudmart:stack', Value: 'cloudmart' },
  { Key: 'cloudmart:step', Value: 'edge.certificates' },
];

interface FakeCert {
  arn: string;
  region: string;
  domain: string;
  status: string;
  tags: Array<{ Key?: string; Value?: string }>;
  describes: number;
  /** Requested during the test: moves on to ISSUED by itself. */
  auto?: boolean;
}

/**
 * A small in-memory ACM across regions: a requested certificate shows its validation records
 * from the second DescribeCertificate and is ISSUED from the `issueAfter`-th.
 */
function fakeAcm(
  acm: LooseStub,
  certs: FakeCert[],
  options: { issueAfter?: number; finalStatus?: string; validated?: () => boolean } = {},
) {
  const regionOf = async (getClient: () => { config: { region: () => Promise<string> } }) =>
    getClient().config.region();
  acm.on(ListCertificatesCommand).callsFake(async (input, getClient) => {
    const region = await regionOf(getClient);
    return {
      CertificateSummaryList: certs
        .filter((c) => c.region === region && input.CertificateStatuses.includes(c.status))
        .map((c) => ({ CertificateArn: c.arn, DomainName: c.domain, Status: c.status })),
    };
  });
  acm.on(ListTagsForCertificateCommand).callsFake(async (input) => ({
    Tags: certs.find((c) => c.arn === input.CertificateArn)?.tags ?? [],
  }));
  acm.on(RequestCertificateCommand).callsFake(async (input, getClient) => {
    const region = await regionOf(getClient);
    const arn = `arn:aws:acm:${region}:123456789012:certificate/new-${region}`;
    certs.push({
      arn,
      region,
      domain: input.DomainName,
      status: 'PENDING_VALIDATION',
      tags: input.Tags,
      describes: 0,
      auto: true,
    });
    return { CertificateArn: arn };
  });
  acm.on(DescribeCertificateCommand).callsFake(async (input) => {
    const c = certs.find((x) => x.arn === input.CertificateArn);
    if (!c) throw awsError('ResourceNotFoundException');
    c.describes++;
    if (
      c.auto &&
      c.status === 'PENDING_VALIDATION' &&
      c.describes >= (options.issueAfter ?? 3) &&
      (options.validated?.() ?? true)
    ) {
      c.status = options.finalStatus ?? 'ISSUED';
    }
    const rr = c.describes >= 2 || c.status !== 'PENDING_VALIDATION' ? CNAME : undefined;
    return {
      Certificate: {
        CertificateArn: c.arn,
        DomainName: c.domain,
        Status: c.status,
        DomainValidationOptions: [
          { DomainName: c.domain, ...(rr ? { ResourceRecord: rr } : {}) },
          { DomainName: `*.${c.domain}`, ...(rr ? { ResourceRecord: rr } : {}) },
        ],
      },
    };
  });
}

const issued = (region: string, name: string, arn = `arn:${region}`): FakeCert => ({
  arn,
  region,
  domain: DOMAIN,
  status: 'ISSUED',
  tags: OUR_TAGS(name),
  describes: 10,
});

describe('edge.certificates', () => {
  let acm: LooseStub;
  let r53: LooseStub;
  beforeEach(() => {
    acm = looseMock(ACMClient);
    r53 = looseMock(Route53Client);
  });
  const ctx = (
    dns: Partial<NonNullable<ConfigInput['dns']>> = {},
    extra: { previous?: Outputs; config?: Partial<ConfigInput> } = {},
  ) =>
    testContext({
      stepId: certificatesStep.id,
      config: testConfig({ dns: { domain: DOMAIN, ...dns }, ...extra.config }),
      ...(extra.previous ? { previous: extra.previous } : {}),
    });

  /** example.com is the zone; shop.example.com has none of its own. */
  function zoneByName(comment = 'managed elsewhere') {
    r53.on(ListHostedZonesByNameCommand, { DNSName: 'shop.example.com.' }).resolves({
      HostedZones: [{ Id: '/hostedzone/ZOTHER', Name: 'shopping.com.', CallerReference: 'x' }],
    });
    r53.on(ListHostedZonesByNameCommand, { DNSName: 'example.com.' }).resolves({
      HostedZones: [
        {
          Id: '/hostedzone/ZEX',
          Name: 'example.com.',
          CallerReference: 'x',
          Config: { PrivateZone: false, Comment: comment },
        },
      ],
    });
  }

  it('is enabled only with a domain', () => {
    expect(certificatesStep.enabled!(testConfig())).toBe(false);
    expect(certificatesStep.enabled!(testConfig({ dns: { domain: DOMAIN } }))).toBe(true);
  });

  it('requests both certificates with DNS validation, writes the validation CNAME once and waits until ISSUED', async () => {
    zoneByName();
    // ACM only issues once the validation CNAME exists.
    let cnameWritten = false;
    fakeAcm(acm, [], { issueAfter: 5, validated: () => cnameWritten });
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(ChangeResourceRecordSetsCommand).callsFake(() => {
      cnameWritten = true;
      return { ChangeInfo: { Id: '/change/C1' } };
    });
    const c = ctx();

    const out = await certificatesStep.create(c);

    expect(out).toEqual({
      hostedZoneId: 'ZEX',
      domain: DOMAIN,
      regionalCertificateArn:
        'arn:aws:acm:ap-northeast-2:123456789012:certificate/new-ap-northeast-2',
      edgeCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/new-us-east-1',
      hostedZoneCreated: false,
      validationRecords: [{ name: CNAME.Name, value: CNAME.Value }],
    });
    const requests = acm.commandCalls(RequestCertificateCommand).map((x) => x.args[0].input);
    expect(requests).toHaveLength(2);
    for (const [i, name] of ['cloudmart-cert', 'cloudmart-edge-cert'].entries()) {
      expect(requests[i]).toEqual({
        DomainName: DOMAIN,
        SubjectAlternativeNames: ['*.shop.example.com'],
        ValidationMethod: 'DNS',
        IdempotencyToken: expect.stringMatching(/^[0-9a-f]{32}$/),
        Tags: expect.arrayContaining(OUR_TAGS(name)),
      });
    }
    expect(requests[0]!.IdempotencyToken).not.toBe(requests[1]!.IdempotencyToken);
    // The regional and the us-east-1 certificate share one validation record: one UPSERT.
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input).toEqual({
      HostedZoneId: 'ZEX',
      ChangeBatch: {
        Comment: expect.any(String),
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: {
              Name: CNAME.Name,
              Type: 'CNAME',
              TTL: 300,
              ResourceRecords: [{ Value: CNAME.Value }],
            },
          },
        ],
      },
    });
    // The record is written while the certificates are still pending, and the wait reports it.
    expect(c.progressLog.some((l) => /issued: PENDING_VALIDATION/.test(l))).toBe(true);
    expect(c.slept()).toBeGreaterThan(0);
  });

  it('adopts its tagged, issued certificates and sends no mutating call when the records are in place', async () => {
    zoneByName();
    fakeAcm(acm, [
      // Another stack's certificate for the same domain is left alone.
      {
        ...issued(
          'ap-northeast-2',
          'other-cert',
          'arn:aws:acm:us-east-1:123456789012:certificate/other',
        ),
        tags: [{ Key: 'cloudmart:stack', Value: 'other' }],
      },
      issued(
        'ap-northeast-2',
        'cloudmart-cert',
        'arn:aws:acm:us-east-1:123456789012:certificate/regional',
      ),
      issued(
        'us-east-1',
        'cloudmart-edge-cert',
        'arn:aws:acm:us-east-1:123456789012:certificate/edge',
      ),
    ]);
    r53.on(ListResourceRecordSetsCommand, { StartRecordName: CNAME.Name }).resolves({
      ResourceRecordSets: [
        { Name: CNAME.Name, Type: 'CNAME', TTL: 300, ResourceRecords: [{ Value: CNAME.Value }] },
      ],
    });

    const out = await certificatesStep.create(ctx());

    expect(out.regionalCertificateArn).toBe(
      'arn:aws:acm:us-east-1:123456789012:certificate/regional',
    );
    expect(out.edgeCertificateArn).toBe('arn:aws:acm:us-east-1:123456789012:certificate/edge');
    expect(mutating(acm)).toEqual([]);
    expect(mutating(r53)).toEqual([]);
  });

  it('uses one certificate for both the ALB and CloudFront when the stack is in us-east-1', async () => {
    zoneByName();
    fakeAcm(acm, []);
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C' } });
    const out = await certificatesStep.create(
      ctx({}, { config: { region: 'us-east-1', availabilityZones: ['us-east-1a', 'us-east-1b'] } }),
    );
    expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(1);
    expect(out.edgeCertificateArn).toBe(out.regionalCertificateArn);
  });

  it('fails before requesting anything when there is no hosted zone and creating one is off', async () => {
    r53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [] });
    fakeAcm(acm, []);
    await expect(certificatesStep.create(ctx())).rejects.toThrow(/no public Route 53 hosted zone/);
    expect(acm.commandCalls(RequestCertificateCommand)).toHaveLength(0);
  });

  it('creates the hosted zone when asked, marks and tags it, and tells the user to delegate it', async () => {
    r53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [] });
    r53.on(CreateHostedZoneCommand).resolves({
      HostedZone: { Id: '/hostedzone/ZNEW', Name: 'shop.example.com.', CallerReference: 'x' },
      DelegationSet: { NameServers: ['ns-1.awsdns-01.org', 'ns-2.awsdns-02.com'] },
    });
    r53.on(ChangeTagsForResourceCommand).resolves({});
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C' } });
    fakeAcm(acm, []);
    const c = ctx({ createHostedZone: true });

    const out = await certificatesStep.create(c);

    expect(out.hostedZoneId).toBe('ZNEW');
    expect(out.hostedZoneCreated).toBe(true);
    expect(r53.commandCalls(CreateHostedZoneCommand)[0]!.args[0].input).toEqual({
      Name: DOMAIN,
      CallerReference: expect.stringMatching(/^cloudmart-cloudmart-/),
      HostedZoneConfig: { Comment: 'cloudmart:cloudmart', PrivateZone: false },
    });
    expect(r53.commandCalls(ChangeTagsForResourceCommand)[0]!.args[0].input).toMatchObject({
      ResourceType: 'hostedzone',
      ResourceId: 'ZNEW',
    });
    expect(c.warnings.join('\n')).toMatch(/ns-1\.awsdns-01\.org/);
  });

  it('stops waiting when validation fails', async () => {
    zoneByName();
    fakeAcm(acm, [], { finalStatus: 'VALIDATION_TIMED_OUT' });
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C' } });
    await expect(certificatesStep.create(ctx())).rejects.toThrow(/VALIDATION_TIMED_OUT/);
  });

  it('verify reports a pending certificate and a missing validation record', async () => {
    r53.on(GetHostedZoneCommand).resolves({
      HostedZone: { Id: '/hostedzone/Z1', Name: 'example.com.', CallerReference: 'x' },
    });
    fakeAcm(acm, [
      issued(
        'ap-northeast-2',
        'cloudmart-cert',
        'arn:aws:acm:us-east-1:123456789012:certificate/regional',
      ),
      {
        ...issued(
          'us-east-1',
          'cloudmart-edge-cert',
          'arn:aws:acm:us-east-1:123456789012:certificate/edge',
        ),
        status: 'PENDING_VALIDATION',
      },
    ]);
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });

    const checks = await certificatesStep.verify(ctx({ hostedZoneId: 'Z1' }));
    const byId = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(byId['edge.certificates.zone']!.status).toBe('pass');
    expect(byId['edge.certificates.regional']!.status).toBe('pass');
    expect(byId['edge.certificates.edge']).toMatchObject({
      status: 'fail',
      criterion: 'encryption',
    });
    expect(byId['edge.certificates.regional.validation-records']!.status).toBe('warn');
  });

  it('teardown deletes each certificate once its users let go (ResourceInUse), then the validation record, and keeps a zone it did not create', async () => {
    zoneByName();
    fakeAcm(acm, [
      issued(
        'ap-northeast-2',
        'cloudmart-cert',
        'arn:aws:acm:us-east-1:123456789012:certificate/regional',
      ),
      issued(
        'us-east-1',
        'cloudmart-edge-cert',
        'arn:aws:acm:us-east-1:123456789012:certificate/edge',
      ),
    ]);
    acm
      .on(DeleteCertificateCommand)
      .rejectsOnce(awsError('ResourceInUseException', 'in use by a load balancer'))
      .resolves({});
    const liveCname = {
      Name: CNAME.Name,
      Type: 'CNAME',
      TTL: 60,
      ResourceRecords: [{ Value: CNAME.Value }],
    };
    r53
      .on(ListResourceRecordSetsCommand, { StartRecordName: CNAME.Name })
      .resolves({ ResourceRecordSets: [liveCname] });
    r53.on(ChangeResourceRecordSetsCommand).resolves({ ChangeInfo: { Id: 'C' } });
    const c = ctx();

    await certificatesStep.teardown(c);

    expect(acm.commandCalls(DeleteCertificateCommand).map((x) => x.args[0].input)).toEqual([
      { CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/regional' },
      { CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/regional' },
      { CertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/edge' },
    ]);
    expect(c.progressLog.some((l) => l.includes('ResourceInUseException'))).toBe(true);
    // DELETE repeats the live record exactly (TTL 60, not the 300 it was created with).
    expect(r53.commandCalls(ChangeResourceRecordSetsCommand)[0]!.args[0].input.ChangeBatch).toEqual(
      {
        Comment: expect.any(String),
        Changes: [{ Action: 'DELETE', ResourceRecordSet: liveCname }],
      },
    );
    expect(r53.commandCalls(DeleteHostedZoneCommand)).toHaveLength(0);
  });

  it('teardown deletes the zone it created once only NS and SOA are left', async () => {
    r53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [] });
    r53.on(ListHostedZonesByNameCommand, { DNSName: 'shop.example.com.' }).resolves({
      HostedZones: [
        {
          Id: '/hostedzone/ZNEW',
          Name: 'shop.example.com.',
          CallerReference: 'x',
          Config: { Comment: 'cloudmart:cloudmart', PrivateZone: false },
        },
      ],
    });
    fakeAcm(acm, []);
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        { Name: 'shop.example.com.', Type: 'NS' },
        { Name: 'shop.example.com.', Type: 'SOA' },
      ],
    });
    r53.on(DeleteHostedZoneCommand).resolves({});

    await certificatesStep.teardown(ctx({ createHostedZone: true }));

    expect(r53.commandCalls(DeleteHostedZoneCommand)[0]!.args[0].input).toEqual({ Id: 'ZNEW' });
  });

  it('teardown keeps a zone it created when other records are still in it', async () => {
    r53.on(ListHostedZonesByNameCommand).resolves({ HostedZones: [] });
    r53.on(ListHostedZonesByNameCommand, { DNSName: 'shop.example.com.' }).resolves({
      HostedZones: [
        {
          Id: '/hostedzone/ZNEW',
          Name: 'shop.example.com.',
          CallerReference: 'x',
          Config: { Comment: 'cloudmart:cloudmart', PrivateZone: false },
        },
      ],
    });
    fakeAcm(acm, []);
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [
        { Name: 'shop.example.com.', Type: 'NS' },
        { Name: 'shop.example.com.', Type: 'SOA' },
        { Name: 'mail.shop.example.com.', Type: 'MX' },
      ],
    });
    const c = ctx({ createHostedZone: true });
    await certificatesStep.teardown(c);
    expect(r53.commandCalls(DeleteHostedZoneCommand)).toHaveLength(0);
    expect(c.warnings.join()).toMatch(/mail\.shop\.example\.com\. MX/);
  });

  it('teardown succeeds when everything is already gone, also from a stale state', async () => {
    zoneByName();
    fakeAcm(acm, []);
    r53.on(ListResourceRecordSetsCommand).resolves({ ResourceRecordSets: [] });
    await expect(
      certificatesStep.teardown(
        ctx(
          {},
          {
            previous: {
              regionalCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/gone',
              edgeCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/gone-too',
              validationRecords: [{ name: CNAME.Name, value: CNAME.Value }],
            },
          },
        ),
      ),
    ).resolves.toBeUndefined();
    expect(mutating(acm)).toEqual([]);
    expect(mutating(r53)).toEqual([]);
  });
});
