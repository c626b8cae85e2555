import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCredentials } from '../../src/cli/runtime.js';
import type { CloudmartError } from '../../src/errors.js';
import { tempDir } from '../helpers/engine.js';

/** What the SDK's default chain throws when no source gave credentials (a named profile too). */
const noCredentials = () =>
  Promise.reject(
    Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    }),
  );

describe('--profile / AWS_PROFILE without credentials', () => {
  const files = () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'config'),
      '[default]\nregion = us-east-1\n\n[profile dev]\nregion = us-east-1\n',
    );
    writeFileSync(join(dir, 'credentials'), '[ops]\naws_access_key_id = AKIAEXAMPLE\n');
    return {
      AWS_CONFIG_FILE: join(dir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
    };
  };
  const check = (profile: string | undefined, env: NodeJS.ProcessEnv) =>
    checkCredentials({ accountId: noCredentials, profile }, env).then(
      () => undefined,
      (e: unknown) => e as CloudmartError,
    );

  it('a profile that is in neither file is named as missing, not "set AWS_PROFILE"', async () => {
    for (const [profile, env] of [
      ['nosuch', files()],
      [undefined, { ...files(), AWS_PROFILE: 'nosuch' }],
    ] as const) {
      const e = await check(profile, env);
      expect(e?.code).toBe('CREDENTIALS');
      expect(e?.message).toContain('there is no AWS profile "nosuch"');
      expect(e?.hint).toContain('aws configure list-profiles');
      expect(e?.hint).not.toContain('Set AWS_PROFILE');
    }
  });

  it('a profile that exists but gives no credentials says so and how to give it some', async () => {
    for (const profile of ['dev', 'ops']) {
      const e = await check(profile, files());
      expect(e?.message).toContain(`the AWS profile "${profile}" gave no credentials`);
      expect(e?.hint).toContain(`aws configure --profile ${profile}`);
      expect(e?.hint).toContain(`aws sso login --profile ${profile}`);
    }
  });

  it('without a profile the advice is still to set one or the keys', async () => {
    const e = await check(undefined, files());
    expect(e?.hint).toContain('Set AWS_PROFILE');
  });
});
