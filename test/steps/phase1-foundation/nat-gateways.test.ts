import {
  AllocateAddressCommand,
  CreateNatGatewayCommand,
  DeleteNatGatewayCommand,
  DescribeAddressesCommand,
  DescribeNatGatewaysCommand,
  EC2Client,
  ReleaseAddressCommand,
  type NatGateway,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { explainAwsError } from '../../../src/aws/errors.js';
import { CloudmartError } from '../../../src/errors.js';
import {
  EIP_RELEASE_TIMEOUT_MS,
  natGatewaysStep,
} from '../../../src/steps/phase1-foundation/nat-gateways.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testContext } from '../../helpers/context.js';

const AZS = ['ap-northeast-2a', 'ap-northeast-2c'];
const SUBNETS = {
  azs: AZS,
  vpcId: 'vpc-1',
  publicSubnetIds: ['subnet-pub-a', 'subnet-pub-c'],
  appSubnetIds: ['subnet-app-a', 'subnet-app-c'],
  dataSubnetIds: ['subnet-data-a', 'subnet-data-c'],
};

const tags = (i: number) => [
  { Key: 'cloudmart:stack', Value: 'cloudmart' },
  { Key: 'cloudmart:step', Value: 'network.nat' },
  { Key: 'cloudmart:az-index', Value: String(i) },
];
const nat = (i: number, over: Partial<NatGateway> = {}): NatGateway => ({
  NatGatewayId: `nat-${i}`,
  SubnetId: SUBNETS.publicSubnetIds[i],
  State: 'available',
  NatGatewayAddresses: [{ AllocationId: `eipalloc-${i}`, PublicIp: `3.0.0.${i}` }],
  Tags: tags(i),
  ...over,
});
const eip = (i: number) => ({
  AllocationId: `eipalloc-${i}`,
  PublicIp: `3.0.0.${i}`,
  Tags: tags(i),
});
const azIndexOf = (input: {
  TagSpecifications?: Array<{ Tags?: Array<{ Key?: string; Value?: string }> }>;
}) => Number(input.TagSpecifications![0]!.Tags!.find((t) => t.Key === 'cloudmart:az-index')!.Value);

const mutating = (stub: ReturnType<typeof strictMock>) =>
  stub
    .calls()
    .map((c) => (c.args[0] as object).constructor.name)
    .filter((n) => !/^(Describe|Get|List)/.test(n));

describe('network.nat', () => {
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  const ctx = (over: Parameters<typeof testContext>[0] = {}) =>
    testContext({
      stepId: natGatewaysStep.id,
      outputs: {
        [STEP.subnets]: SUBNETS,
        [STEP.igw]: { internetGatewayId: 'igw-1' },
      },
      ...over,
    });

  /** Fresh account: no NAT, no EIP; NATs become available after `polls` describes each. */
  function emptyAccount(polls = 3) {
    const seen: string[] = [];
    const count = new Map<string, number>();
    ec2.on(DescribeAddressesCommand).resolves({ Addresses: [] });
    ec2.on(DescribeNatGatewaysCommand).callsFake((input: { NatGatewayIds?: string[] }) => {
      const id = input.NatGatewayIds?.[0];
      if (!id) return { NatGateways: [] };
      seen.push(id);
      const n = (count.get(id) ?? 0) + 1;
      count.set(id, n);
      return { NatGateways: [{ NatGatewayId: id, State: n >= polls ? 'available' : 'pending' }] };
    });
    ec2.on(AllocateAddressCommand).callsFake((input) => {
      const i = azIndexOf(input);
      return { AllocationId: `eipalloc-${i}`, PublicIp: `3.0.0.${i}` };
    });
    ec2.on(CreateNatGatewayCommand).callsFake((input) => {
      const i = azIndexOf(input);
      return {
        NatGateway: { NatGatewayId: `nat-${i}`, SubnetId: input.SubnetId, State: 'pending' },
      };
    });
    return seen;
  }

  it('creates one EIP and one NAT gateway per AZ in that AZ public subnet, tagged at creation', async () => {
    emptyAccount();
    const out = await natGatewaysStep.create(ctx());

    expect(out).toEqual({
      natGatewayIds: ['nat-0', 'nat-1'],
      allocationIds: ['eipalloc-0', 'eipalloc-1'],
      publicIps: ['3.0.0.0', '3.0.0.1'],
    });
    // Live NATs only: deleted and failed ones from an earlier run are history.
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)[0]!.args[0].input).toEqual({
      Filter: [
        { Name: 'tag:cloudmart:stack', Values: ['cloudmart'] },
        { Name: 'tag:cloudmart:step', Values: ['network.nat'] },
        { Name: 'state', Values: ['pending', 'available'] },
      ],
    });
    const allocs = ec2.commandCalls(AllocateAddressCommand).map((c) => c.args[0].input);
    expect(allocs).toHaveLength(2);
    expect(allocs[0]).toEqual({
      Domain: 'vpc',
      TagSpecifications: [
        {
          ResourceType: 'elastic-ip',
          Tags: expect.arrayContaining([
            { Key: 'Name', Value: 'cloudmart-nat-ap-northeast-2a' },
            { Key: 'cloudmart:stack', Value: 'cloudmart' },
            { Key: 'cloudmart:az-index', Value: '0' },
          ]),
        },
      ],
    });
    const creates = ec2.commandCalls(CreateNatGatewayCommand).map((c) => c.args[0].input);
    expect(creates).toHaveLength(2);
    for (const [i, az] of AZS.entries()) {
      expect(creates[i]).toEqual({
        SubnetId: SUBNETS.publicSubnetIds[i],
        AllocationId: `eipalloc-${i}`,
        ConnectivityType: 'public',
        ClientToken: expect.stringMatching(/^[0-9a-f]{64}$/),
        TagSpecifications: [
          {
            ResourceType: 'natgateway',
            Tags: expect.arrayContaining([
              { Key: 'Name', Value: `cloudmart-nat-${az}` },
              { Key: 'cloudmart:az-index', Value: String(i) },
              { Key: 'cloudmart:step', Value: 'network.nat' },
            ]),
          },
        ],
      });
    }
    expect(creates[0]!.ClientToken).not.toBe(creates[1]!.ClientToken);
  });

  it('fails only once every AZ has settled: no AZ still allocating outlives the call and races a retry', async () => {
    emptyAccount();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    ec2.on(AllocateAddressCommand).callsFake(async (input) => {
      const i = azIndexOf(input);
      if (i === 0) await held; // AZ a's answer is slow (the SDK still retrying, say)
      return { AllocationId: `eipalloc-${i}`, PublicIp: `3.0.0.${i}` };
    });
    ec2
      .on(CreateNatGatewayCommand)
      .callsFake((input: { SubnetId?: string; AllocationId?: string }) => {
        if (input.AllocationId === 'eipalloc-1')
          throw awsError('InvalidSubnet', 'The subnet ID does not exist', 400);
        return {
          NatGateway: { NatGatewayId: 'nat-0', SubnetId: input.SubnetId, State: 'pending' },
        };
      });
    let settled = false;
    const run = natGatewaysStep.create(ctx()).finally(() => (settled = true));
    run.catch(() => undefined);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    // AZ c failed long ago; the step has not given up while AZ a is still in flight.
    expect(settled).toBe(false);
    release();
    await expect(run).rejects.toThrow(/subnet ID does not exist/);
    expect(
      ec2.commandCalls(CreateNatGatewayCommand).map((c) => c.args[0].input.AllocationId),
    ).toEqual(expect.arrayContaining(['eipalloc-0', 'eipalloc-1']));
  });

  it('waits for both NAT gateways at the same time, with progress', async () => {
    const seen = emptyAccount(4);
    const c = ctx();
    await natGatewaysStep.create(c);

    // Waiting one after the other would poll nat-0 four times before nat-1 once.
    expect(seen.indexOf('nat-1')).toBeLessThan(seen.lastIndexOf('nat-0'));
    expect(seen.filter((x) => x === 'nat-0')).toHaveLength(4);
    expect(seen.filter((x) => x === 'nat-1')).toHaveLength(4);
    expect(
      c.progressLog.some((l) => l.startsWith('NAT gateway nat-0 in ap-northeast-2a: pending')),
    ).toBe(true);
    expect(
      c.progressLog.some((l) => l.startsWith('NAT gateway nat-1 in ap-northeast-2c: pending')),
    ).toBe(true);
  });

  it('adopts the tagged NATs and EIPs and sends no mutating call', async () => {
    ec2.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [nat(1), nat(0)] });
    ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });

    const out = await natGatewaysStep.create(ctx());

    expect(mutating(ec2)).toEqual([]);
    expect(out.natGatewayIds).toEqual(['nat-0', 'nat-1']);
    expect(out.publicIps).toEqual(['3.0.0.0', '3.0.0.1']);
  });

  it('after a crash, reuses the tagged EIP and sends the same client token, so AWS answers with the same NAT', async () => {
    // Run 1 allocated the EIPs and called CreateNatGateway, then died before the state write;
    // the NAT does not show in the tag lookup yet (eventual consistency).
    emptyAccount(1);
    await natGatewaysStep.create(ctx());
    const firstTokens = ec2
      .commandCalls(CreateNatGatewayCommand)
      .map((c) => c.args[0].input.ClientToken);

    ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });
    await natGatewaysStep.create(ctx());

    expect(ec2.commandCalls(AllocateAddressCommand)).toHaveLength(2);
    const tokens = ec2
      .commandCalls(CreateNatGatewayCommand)
      .map((c) => c.args[0].input.ClientToken);
    expect(tokens.slice(2)).toEqual(firstTokens);
  });

  it('moves the client token on when AWS answers it with a NAT a destroy already deleted', async () => {
    emptyAccount(1);
    ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });
    ec2
      .on(CreateNatGatewayCommand, { AllocationId: 'eipalloc-0' })
      .resolvesOnce({ NatGateway: { NatGatewayId: 'nat-old', State: 'deleted' } })
      .resolves({ NatGateway: { NatGatewayId: 'nat-0', State: 'pending' } });

    const out = await natGatewaysStep.create(ctx());

    const az0 = ec2
      .commandCalls(CreateNatGatewayCommand)
      .filter((c) => c.args[0].input.AllocationId === 'eipalloc-0')
      .map((c) => c.args[0].input.ClientToken);
    expect(az0).toHaveLength(2);
    expect(az0[0]).not.toBe(az0[1]);
    expect(out.natGatewayIds).toEqual(['nat-0', 'nat-1']);
  });

  it('fails with the NAT failure message when a NAT gateway ends up failed', async () => {
    emptyAccount();
    ec2.on(DescribeNatGatewaysCommand, { NatGatewayIds: ['nat-1'] }).resolves({
      NatGateways: [
        {
          NatGatewayId: 'nat-1',
          State: 'failed',
          FailureMessage: 'Network has no Internet gateway attached',
        },
      ],
    });
    await expect(natGatewaysStep.create(ctx())).rejects.toThrow(
      /nat-1.*failed: Network has no Internet gateway attached/,
    );
  });

  describe('right after a create (EC2 eventual consistency)', () => {
    it('retries CreateNatGateway with the same client token while the new EIP reads InvalidAllocationID.NotFound', async () => {
      emptyAccount(1);
      ec2
        .on(CreateNatGatewayCommand, { AllocationId: 'eipalloc-0' })
        .rejectsOnce(awsError('InvalidAllocationID.NotFound'))
        .resolves({ NatGateway: { NatGatewayId: 'nat-0', State: 'pending' } });
      const c = ctx();

      const out = await natGatewaysStep.create(c);

      expect(out.natGatewayIds).toEqual(['nat-0', 'nat-1']);
      const az0 = ec2
        .commandCalls(CreateNatGatewayCommand)
        .filter((x) => x.args[0].input.AllocationId === 'eipalloc-0')
        .map((x) => x.args[0].input.ClientToken);
      expect(az0).toHaveLength(2);
      expect(az0[1]).toBe(az0[0]);
      expect(ec2.commandCalls(AllocateAddressCommand)).toHaveLength(2);
      expect(c.progressLog.some((l) => l.includes('waiting (InvalidAllocationID.NotFound)'))).toBe(
        true,
      );
    });

    it('does not retry CreateNatGateway on NotFound for an adopted EIP (it really is gone)', async () => {
      emptyAccount(1);
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });
      ec2.on(CreateNatGatewayCommand).rejects(awsError('InvalidAllocationID.NotFound'));

      await expect(natGatewaysStep.create(ctx())).rejects.toThrow('InvalidAllocationID.NotFound');
      expect(ec2.commandCalls(CreateNatGatewayCommand)).toHaveLength(2);
    });

    it('reads NatGatewayNotFound on a NAT it just created as "not visible yet"', async () => {
      emptyAccount(2);
      ec2
        .on(DescribeNatGatewaysCommand, { NatGatewayIds: ['nat-1'] })
        .rejectsOnce(awsError('NatGatewayNotFound'))
        .resolves({ NatGateways: [{ NatGatewayId: 'nat-1', State: 'available' }] });
      const c = ctx();

      await expect(natGatewaysStep.create(c)).resolves.toMatchObject({
        natGatewayIds: ['nat-0', 'nat-1'],
      });
      expect(
        c.progressLog.some((l) =>
          l.startsWith(
            'NAT gateway nat-1 in ap-northeast-2c: not visible yet (NatGatewayNotFound)',
          ),
        ),
      ).toBe(true);
    });

    it('fails on NatGatewayNotFound for an adopted pending NAT', async () => {
      ec2.on(DescribeNatGatewaysCommand).callsFake((input: { NatGatewayIds?: string[] }) => {
        if (input.NatGatewayIds) throw awsError('NatGatewayNotFound');
        return { NatGateways: [nat(0, { State: 'pending' }), nat(1)] };
      });
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });

      await expect(natGatewaysStep.create(ctx())).rejects.toThrow('NatGatewayNotFound');
    });
  });

  describe('verify', () => {
    it('passes with one available NAT in each AZ public subnet', async () => {
      ec2.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [nat(0), nat(1)] });
      const [check] = await natGatewaysStep.verify(ctx());
      expect(check).toMatchObject({
        id: 'network.nat.per-az',
        status: 'pass',
        criterion: 'multi-az',
      });
      expect(check!.evidence).toBe(
        'ap-northeast-2a: nat-0 available in subnet-pub-a; ap-northeast-2c: nat-1 available in subnet-pub-c',
      );
    });

    it('reports an AZ without a NAT gateway', async () => {
      ec2.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [nat(0)] });
      const [check] = await natGatewaysStep.verify(ctx());
      expect(check!.status).toBe('fail');
      expect(check!.evidence).toContain('ap-northeast-2c: no NAT gateway in subnet-pub-c');
    });

    it('reports both NATs sitting in the same AZ', async () => {
      ec2
        .on(DescribeNatGatewaysCommand)
        .resolves({ NatGateways: [nat(0), nat(1, { SubnetId: 'subnet-pub-a' })] });
      const [check] = await natGatewaysStep.verify(ctx());
      expect(check!.status).toBe('fail');
      expect(check!.evidence).toContain(
        'nat-1 is available in subnet-pub-a (public subnet subnet-pub-c)',
      );
    });
  });

  describe('teardown', () => {
    it('deletes both NATs, waits until they are deleted, then releases their EIPs', async () => {
      const polls = new Map<string, number>();
      ec2.on(DescribeNatGatewaysCommand).callsFake((input: { NatGatewayIds?: string[] }) => {
        const id = input.NatGatewayIds?.[0];
        if (!id) return { NatGateways: [nat(0), nat(1)] };
        const n = (polls.get(id) ?? 0) + 1;
        polls.set(id, n);
        return { NatGateways: [{ NatGatewayId: id, State: n >= 3 ? 'deleted' : 'deleting' }] };
      });
      ec2.on(DeleteNatGatewayCommand).resolves({});
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });
      ec2.on(ReleaseAddressCommand).rejectsOnce(awsError('InvalidIPAddress.InUse')).resolves({});

      await natGatewaysStep.teardown(ctx());

      const names = ec2.calls().map((c) => (c.args[0] as object).constructor.name);
      const lastNatPoll = names.lastIndexOf('DescribeNatGatewaysCommand');
      const firstRelease = names.indexOf('ReleaseAddressCommand');
      expect(firstRelease).toBeGreaterThan(lastNatPoll);
      expect(ec2.commandCalls(DeleteNatGatewayCommand).map((c) => c.args[0].input)).toEqual([
        { NatGatewayId: 'nat-0' },
        { NatGatewayId: 'nat-1' },
      ]);
      expect(polls.get('nat-0')).toBe(3);
      expect(polls.get('nat-1')).toBe(3);
      const released = ec2
        .commandCalls(ReleaseAddressCommand)
        .map((c) => c.args[0].input.AllocationId);
      expect(new Set(released)).toEqual(new Set(['eipalloc-0', 'eipalloc-1']));
      expect(released).toHaveLength(3);
    });

    it('with a lost state, still finds the EIPs by tag and releases them', async () => {
      ec2.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(1)] });
      ec2.on(ReleaseAddressCommand).resolves({});

      await natGatewaysStep.teardown(ctx({ previous: undefined }));

      expect(ec2.commandCalls(DeleteNatGatewayCommand)).toHaveLength(0);
      expect(ec2.commandCalls(ReleaseAddressCommand).map((c) => c.args[0].input)).toEqual([
        { AllocationId: 'eipalloc-1' },
      ]);
    });

    it('succeeds when everything is already gone, also for ids only the state remembers', async () => {
      ec2.on(DescribeNatGatewaysCommand).resolves({ NatGateways: [] });
      ec2
        .on(DescribeNatGatewaysCommand, { NatGatewayIds: ['nat-old'] })
        .rejects(awsError('NatGatewayNotFound'));
      ec2.on(DeleteNatGatewayCommand).rejects(awsError('NatGatewayNotFound'));
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [] });
      ec2.on(ReleaseAddressCommand).rejects(awsError('InvalidAllocationID.NotFound'));

      await expect(
        natGatewaysStep.teardown(
          ctx({
            previous: {
              natGatewayIds: ['nat-old'],
              allocationIds: ['eipalloc-old'],
              publicIps: [],
            },
          }),
        ),
      ).resolves.toBeUndefined();
      expect(ec2.commandCalls(ReleaseAddressCommand)).toHaveLength(1);
    });

    it('does not delete a NAT that is already deleting, but still waits for it', async () => {
      ec2
        .on(DescribeNatGatewaysCommand)
        .callsFake((input: { NatGatewayIds?: string[] }) =>
          input.NatGatewayIds
            ? { NatGateways: [{ NatGatewayId: 'nat-0', State: 'deleted' }] }
            : { NatGateways: [nat(0, { State: 'deleting' })] },
        );
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [] });

      await natGatewaysStep.teardown(ctx());

      expect(ec2.commandCalls(DeleteNatGatewayCommand)).toHaveLength(0);
      expect(
        ec2.commandCalls(DescribeNatGatewaysCommand).some((c) => c.args[0].input.NatGatewayIds),
      ).toBe(true);
    });

    /** Both NATs already deleted, both EIPs still tagged: only the release is left. */
    function natsDeleted() {
      ec2
        .on(DescribeNatGatewaysCommand)
        .callsFake((input: { NatGatewayIds?: string[] }) =>
          input.NatGatewayIds
            ? { NatGateways: [{ NatGatewayId: input.NatGatewayIds[0], State: 'deleted' }] }
            : { NatGateways: [] },
        );
      ec2.on(DescribeAddressesCommand).resolves({ Addresses: [eip(0), eip(1)] });
    }

    it.each([
      ['AuthFailure', 'You do not have permission to access the specified resource.'],
      ['InvalidNetworkInterfaceID.NotFound', "The networkInterface ID 'eni-0' does not exist"],
      ['InvalidIPAddress.InUse', 'Address 3.0.0.0 is in use.'],
    ])(
      'retries ReleaseAddress while the deleted NAT still holds the address (%s)',
      async (name, message) => {
        natsDeleted();
        ec2.on(ReleaseAddressCommand).resolves({});
        ec2
          .on(ReleaseAddressCommand, { AllocationId: 'eipalloc-0' })
          .rejectsOnce(awsError(name, message))
          .rejectsOnce(awsError(name, message))
          .resolves({});
        const c = ctx();

        await natGatewaysStep.teardown(c);

        const released = ec2
          .commandCalls(ReleaseAddressCommand)
          .map((x) => x.args[0].input.AllocationId);
        expect(released.filter((id) => id === 'eipalloc-0')).toHaveLength(3);
        expect(released.filter((id) => id === 'eipalloc-1')).toHaveLength(1);
        expect(
          c.progressLog.some((l) =>
            l.startsWith(`releasing Elastic IP eipalloc-0: waiting (${name})`),
          ),
        ).toBe(true);
      },
    );

    it('gives up after the bound with its own error, not "credentials are missing or expired", and still releases the other EIP', async () => {
      natsDeleted();
      ec2.on(ReleaseAddressCommand).resolves({});
      ec2
        .on(ReleaseAddressCommand, { AllocationId: 'eipalloc-0' })
        .rejects(
          awsError('AuthFailure', 'You do not have permission to access the specified resource.'),
        );
      const c = ctx();

      const err = await natGatewaysStep.teardown(c).catch((e: unknown) => e);

      expect(err).toBeInstanceOf(CloudmartError);
      expect((err as CloudmartError).code).toBe('AWS_ERROR');
      expect((err as Error).message).toMatch(
        /^Releasing Elastic IP eipalloc-0 failed: AWS still refuses it 5 min after its NAT gateway was deleted \(AuthFailure: /,
      );
      // The engine passes a CloudmartError through as is.
      const shown = explainAwsError(err, 'NAT gateways (network.nat) teardown');
      expect(shown.code).toBe('AWS_ERROR');
      expect(shown.message).not.toMatch(/credentials/i);
      expect(shown.hint).toMatch(/cloudmart destroy/);
      // Bounded: waited out the bound, not much longer.
      expect(c.slept()).toBeGreaterThanOrEqual(EIP_RELEASE_TIMEOUT_MS - 15_000);
      expect(c.slept()).toBeLessThan(EIP_RELEASE_TIMEOUT_MS + 60_000);
      expect(ec2.commandCalls(ReleaseAddressCommand, { AllocationId: 'eipalloc-1' })).toHaveLength(
        1,
      );
    });

    it('treats only InvalidAllocationID.NotFound as already released', async () => {
      natsDeleted();
      ec2.on(ReleaseAddressCommand).rejects(awsError('InvalidAllocationID.NotFound'));
      await expect(natGatewaysStep.teardown(ctx())).resolves.toBeUndefined();
      expect(ec2.commandCalls(ReleaseAddressCommand)).toHaveLength(2);
    });

    it('does not retry an error that says nothing about the address being held', async () => {
      natsDeleted();
      ec2
        .on(ReleaseAddressCommand)
        .rejects(awsError('UnauthorizedOperation', 'not authorized', 403));
      await expect(natGatewaysStep.teardown(ctx())).rejects.toThrow('not authorized');
      expect(ec2.commandCalls(ReleaseAddressCommand)).toHaveLength(2);
    });
  });
});
