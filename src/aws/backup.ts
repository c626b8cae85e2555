import type { BackupClient, DescribeBackupVaultOutput } from '@aws-sdk/client-backup';
import { ignoreNotFound, isAccessDenied } from './errors.js';
import { firstInPages } from './pages.js';

/** The IAM actions `describeBackupVault` calls, for the steps' `actions` lists. */
export const BACKUP_VAULT_LOOKUP_ACTIONS = [
  'backup:DescribeBackupVault',
  'backup:ListBackupVaults',
] as const;

/**
 * A backup vault by name, or undefined when there is none.
 *
 * AWS Backup answers DescribeBackupVault for a vault that does not exist with
 * AccessDeniedException (403), not ResourceNotFoundException, even to a caller that may
 * describe vaults. So a 403 is settled by listing the region's vaults: absent from the list
 * means absent; present (or the list refused too) means the access really is denied.
 */
export async function describeBackupVault(
  backup: BackupClient,
  name: string,
): Promise<DescribeBackupVaultOutput | undefined> {
  const { DescribeBackupVaultCommand, paginateListBackupVaults } =
    await import('@aws-sdk/client-backup');
  try {
    return await ignoreNotFound(
      backup.send(new DescribeBackupVaultCommand({ BackupVaultName: name })),
    );
  } catch (e) {
    if (!isAccessDenied(e)) throw e;
    let listed: boolean;
    try {
      listed =
        (await firstInPages(
          paginateListBackupVaults({ client: backup }, {}),
          (page) => page.BackupVaultList,
          (v) => v.BackupVaultName === name,
        )) !== undefined;
    } catch {
      throw e;
    }
    if (listed) throw e;
    return undefined;
  }
}
