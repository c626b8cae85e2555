import { CreateVpcCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { strictMock, TestAws } from '../helpers/context.js';

describe('strictMock', () => {
  let ec2: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ec2 = strictMock(EC2Client);
  });

  it('answers the commands a test expects', async () => {
    ec2.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1' }] });
    const client = await new TestAws().get('ec2');
    await expect(client.send(new DescribeVpcsCommand({}))).resolves.toMatchObject({
      Vpcs: [{ VpcId: 'vpc-1' }],
    });
  });

  it('rejects a command nobody expected, naming it', async () => {
    ec2.on(DescribeVpcsCommand).resolves({});
    const client = await new TestAws().get('ec2');
    await expect(client.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }))).rejects.toThrow(
      /Unexpected AWS command CreateVpcCommand/,
    );
  });
});

describe('error classification', () => {
  it('treats a socket reset (a plain Error with code ECONNRESET) as transient', async () => {
    const { isTransient } = await import('../../src/aws/errors.js');
    expect(isTransient(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(
      true,
    );
    expect(isTransient(Object.assign(new Error('x'), { name: 'ThrottlingException' }))).toBe(true);
    expect(
      isTransient(
        Object.assign(new Error('x'), {
          name: 'InvalidParameterValue',
          $metadata: { httpStatusCode: 400 },
        }),
      ),
    ).toBe(false);
  });
});
