import {
  BackupClient,
  DescribeBackupVaultCommand,
  ListBackupVaultsCommand,
} from '@aws-sdk/client-backup';
import { beforeEach, describe, expect, it } from 'vitest';
import { describeBackupVault } from '../../src/aws/backup.js';
import { awsError, strictMock } from '../helpers/context.js';

const DENIED = () =>
  awsError('AccessDeniedException', 'Insufficient privileges to perform this action.', 403);

describe('describeBackupVault', () => {
  let backup: ReturnType<typeof strictMock>;
  const client = () => new BackupClient({ region: 'ap-northeast-2' });
  beforeEach(() => {
    backup = strictMock(BackupClient);
  });

  it('returns the vault when it exists', async () => {
    backup
      .on(DescribeBackupVaultCommand, { BackupVaultName: 'v' })
      .resolves({ BackupVaultName: 'v', NumberOfRecoveryPoints: 2 });
    expect((await describeBackupVault(client(), 'v'))?.NumberOfRecoveryPoints).toBe(2);
    expect(backup.commandCalls(ListBackupVaultsCommand)).toHaveLength(0);
  });

  it('settles AWS Backup\'s "access denied" for a missing vault by listing: absent → undefined (every page read)', async () => {
    backup.on(DescribeBackupVaultCommand).rejects(DENIED());
    backup
      .on(ListBackupVaultsCommand, { NextToken: undefined })
      .resolves({ BackupVaultList: [{ BackupVaultName: 'other' }], NextToken: 't2' })
      .on(ListBackupVaultsCommand, { NextToken: 't2' })
      .resolves({ BackupVaultList: [{ BackupVaultName: 'another' }] });
    expect(await describeBackupVault(client(), 'v')).toBeUndefined();
    expect(backup.commandCalls(ListBackupVaultsCommand)).toHaveLength(2);
  });

  it('keeps a real "access denied": the vault is listed, or the list is refused too', async () => {
    backup.on(DescribeBackupVaultCommand).rejects(DENIED());
    backup.on(ListBackupVaultsCommand).resolves({ BackupVaultList: [{ BackupVaultName: 'v' }] });
    await expect(describeBackupVault(client(), 'v')).rejects.toThrow(/Insufficient privileges/);
    backup.on(ListBackupVaultsCommand).rejects(awsError('AccessDeniedException', 'no list', 403));
    await expect(describeBackupVault(client(), 'v')).rejects.toThrow(/Insufficient privileges/);
  });

  it('treats ResourceNotFoundException as absent and passes other errors through', async () => {
    backup.on(DescribeBackupVaultCommand).rejects(awsError('ResourceNotFoundException'));
    expect(await describeBackupVault(client(), 'v')).toBeUndefined();
    backup
      .on(DescribeBackupVaultCommand)
      .rejects(awsError('ServiceUnavailableException', 'x', 503));
    await expect(describeBackupVault(client(), 'v')).rejects.toThrow('x');
  });
});
