/**
 * The stateful fake cloud: see README.md next to this file.
 *
 *   const cloud = await new FakeCloud({ mode: 'instant' }).install();
 *   … run cloudmart (engine options: sleep: cloud.sleep, now: cloud.now) …
 *   cloud.leftovers('cloudmart'); cloud.duplicates(); cloud.mutatingCalls();
 *   cloud.uninstall();
 */
export {
  FakeCloud,
  installSend,
  type SendFn,
  type FakeCloudJSON,
  type FakeCloudMode,
  type FakeCloudOptions,
} from './cloud.js';
export { Clock, type ClockMode } from './clock.js';
export { awsError, FakeAwsError, FakeNotImplementedError, faults, sdkRetries } from './errors.js';
export { INSTANT_TIMINGS, LATENCY_TIMINGS, type Timings } from './timings.js';
export type {
  CallEvent,
  CallHook,
  CallRecord,
  Duplicate,
  InventoryItem,
  Leftover,
  Resource,
  ServiceName,
} from './types.js';
export {
  afterMutatingCall,
  randomFaults,
  type FaultCounter,
  type FaultKind,
  type RandomFaultOptions,
} from './faults.js';
