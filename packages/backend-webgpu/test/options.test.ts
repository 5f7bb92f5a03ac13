import { describe, expect, it } from 'vitest';
import { createWebGpuBackend } from '../src/index.js';
import { checkWebGpuOptions } from '../src/runtime.js';

// Bad options are rejected before any device is opened: no GPU needed.
describe('createWebGpuBackend options', () => {
  it('unknown keys and values of the wrong type: TypeErrors naming them', async () => {
    await expect(createWebGpuBackend({ halfConversions: 'integer' } as never)).rejects.toThrow(
      /^createWebGpuBackend: unknown option "halfConversions" \(did you mean halfConversion\?\); expected powerPreference, dawnOptions, halfConversion$/,
    );
    await expect(createWebGpuBackend({ dawnOptions: 'x' } as never)).rejects.toThrow(
      new TypeError(
        'createWebGpuBackend: dawnOptions: expected an array of strings, got string "x"',
      ),
    );
    await expect(createWebGpuBackend({ powerPreference: 'fast' } as never)).rejects.toThrow(
      RangeError,
    );
    await expect(createWebGpuBackend('auto' as never)).rejects.toThrow(
      /createWebGpuBackend: options: expected an options object/,
    );
    await expect(createWebGpuBackend(null as never)).rejects.toThrow(
      /createWebGpuBackend: options: expected an options object .*, got null/,
    );
  });

  it('checkWebGpuOptions accepts the documented ones', () => {
    const options = {
      powerPreference: 'low-power',
      dawnOptions: ['enable-dawn-features=allow_unsafe_apis'],
      halfConversion: 'integer',
    } as const;
    expect(checkWebGpuOptions(options, 'f')).toBe(options);
    expect(checkWebGpuOptions(undefined, 'f')).toEqual({});
    expect(() => checkWebGpuOptions({ halfConversion: 'fast' as never }, 'f')).toThrow(RangeError);
  });
});
