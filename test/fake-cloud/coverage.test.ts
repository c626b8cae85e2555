import { describe, expect, it } from 'vitest';
import { FakeCloud, type ServiceName } from '../helpers/fake-cloud/index.js';
import { PACKAGE_SERVICE } from '../helpers/aws-models/models.js';
import { sdkCommandsInSource } from '../helpers/sdk-commands.js';

/**
 * The fake must answer every AWS operation cloudmart sends. This reads src/ for every
 * `XxxCommand` of an @aws-sdk client package and asks the fake whether it models it; a new
 * command in a step fails here first, naming the handler to add.
 */
const PACKAGES = PACKAGE_SERVICE as Record<string, ServiceName>;

describe('FakeCloud coverage of what cloudmart sends', () => {
  it('models every SDK command used anywhere in src/', async () => {
    const cloud = new FakeCloud();
    const used: string[] = [];
    const missing: string[] = [];
    for (const { file, command, packages } of await sdkCommandsInSource(Object.keys(PACKAGES))) {
      const services = packages.map((p) => PACKAGES[p]!);
      used.push(`${services.join('|')}.${command}`);
      if (!services.some((s) => cloud.implements(s, command))) {
        missing.push(`${file}: ${services.join('|')}.${command}`);
      }
    }
    expect(missing).toEqual([]);
    // The scan itself must find what it is meant to find.
    expect(used).toContain('ec2.CreateVpc');
    expect(used).toContain('tagging.GetResources');
    expect(new Set(used).size).toBeGreaterThan(250);
  });
});
