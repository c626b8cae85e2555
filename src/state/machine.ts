import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the sources of the machine identity are read; tests pass their own.
 */
export interface MachineSources {
  /** Files holding the OS's machine id, first readable non-empty one wins. */
  machineIdFiles: string[];
  /** The folder of cloudmart's own machine id, used when the OS has none. */
  configDir: string;
  /** Changes at every boot (Linux). */
  bootIdFile: string;
  /** Names the pid namespace this process lives in (Linux: differs per container). */
  pidNamespaceLink: string;
}

/**
 * cloudmart's config folder: $XDG_CONFIG_HOME/cloudmart, else the platform's usual place
 * (~/.config/cloudmart; %APPDATA%\cloudmart on Windows; ~/Library/Application Support/cloudmart
 * on macOS). cloudmart writes nothing else there but its machine id.
 */
export function configDir(): string {
  const xdg = process.env.XDG_CONFIG_HOME;
  if (xdg) return join(xdg, 'cloudmart');
  if (process.platform === 'win32' && process.env.APPDATA)
    return join(process.env.APPDATA, 'cloudmart');
  if (process.platform === 'darwin')
    return join(homedir(), 'Library', 'Application Support', 'cloudmart');
  return join(homedir(), '.config', 'cloudmart');
}

export function defaultSources(): MachineSources {
  return {
    machineIdFiles: ['/etc/machine-id', '/var/lib/dbus/machine-id'],
    configDir: configDir(),
    bootIdFile: '/proc/sys/kernel/random/boot_id',
    pidNamespaceLink: '/proc/self/ns/pid',
  };
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The OS's machine id, else one cloudmart made up once and keeps in its config folder (created
 * exclusively, so two first runs agree on one). When even that cannot be written, an id of this
 * process alone: its locks are then never judged stale by another process (conservative).
 */
function baseId(sources: MachineSources): string {
  for (const file of sources.machineIdFiles) {
    const id = readTrimmed(file);
    if (id) return id;
  }
  const file = join(sources.configDir, 'machine-id');
  const kept = readTrimmed(file);
  if (kept) return kept;
  const made = randomBytes(16).toString('hex');
  try {
    mkdirSync(sources.configDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${made}\n`, { flag: 'wx', mode: 0o600 });
    return made;
  } catch {
    return readTrimmed(file) ?? `process-${made}`;
  }
}

/**
 * The identity a lock records as `machine`: which pid space its pid belongs to. A pid can only be
 * judged dead by a process in that same space, and the host name does not tell it (containers
 * are often all called "localhost", or share their image's host name; cloned VMs share one
 * too). It is derived from the machine id, the boot id and the pid namespace, so two containers
 * on one host, two machines cloned from one image, or one machine before and after a reboot
 * each get their own. The machine id is not stored: systemd asks applications to use an
 * app-specific hash of it (machine-id(5)), which this is (HMAC-SHA256 keyed with it).
 */
export function machineIdentity(sources: MachineSources = defaultSources()): string {
  const bootId = readTrimmed(sources.bootIdFile) ?? '';
  let pidNamespace = '';
  try {
    pidNamespace = readlinkSync(sources.pidNamespaceLink);
  } catch {
    // Not Linux: the boot and machine ids are all there is.
  }
  return createHmac('sha256', baseId(sources))
    .update(`cloudmart lock\0${bootId}\0${pidNamespace}`)
    .digest('hex')
    .slice(0, 32);
}

let cached: string | undefined;

/** This process's machine identity (computed once). */
export function thisMachine(): string {
  cached ??= machineIdentity();
  return cached;
}
