import { describeBackendConformance } from '@halfstep/backend/testing';
import { createJsBackend } from '@halfstep/backend-js';
import { it } from 'vitest';
import { halfConversion, openDevice } from './device.js';

// The shared contract on this process's WebGPU adapter (SwiftShader in CI; lavapipe with the
// shader-f16 conversions in the lavapipe project). Outside CI, no adapter skips it with the reason.
const device = await openDevice();
if (device.backend !== undefined || device.required) {
  describeBackendConformance({
    name: `webgpu (${halfConversion} float16 conversions)`,
    create: async () => {
      if (device.backend === undefined)
        throw new Error(`no WebGPU adapter in CI: ${device.reason}`);
      return device.backend;
    },
    reference: createJsBackend,
  });
} else {
  it.skip(`webgpu conformance: no adapter (${device.reason})`, () => undefined);
}
