import { decode, encode } from '@halfstep/codecs';
import { Float16Array, getFloat16 } from '@petamoriken/float16';
import { normalFloat32 } from '../data.js';
import type { BenchGroup } from '../harness.js';
import { measurePython, pythonTimer, shareWithPython } from '../python.js';

const N = 1 << 20;

/** float32 <-> float16/bfloat16/float8 conversion against @petamoriken/float16 and numpy. */
export const codecsGroup: BenchGroup = {
  name: 'codecs',
  tables() {
    // Embedding-like weights: normal, std 0.05, so nearly all values are float16 normals.
    const values = normalFloat32(N, 0.05);
    const halves = encode('float16', values);
    const file = shareWithPython(values);
    const halfFile = shareWithPython(halves);
    const out16 = new Uint16Array(N);
    const out8 = new Uint8Array(N);
    const outF32 = new Float32Array(N);
    const peerHalves = new Float16Array(values);
    const view = new DataView(halves.buffer);
    const numpy = (body: string) =>
      measurePython(
        `${pythonTimer}\nimport numpy as np\nx = np.fromfile(${JSON.stringify(file)}, dtype=np.float32)\nh = np.fromfile(${JSON.stringify(halfFile)}, dtype=np.float16)\n${body}`,
      );
    return [
      {
        title: 'encode float32 -> narrow, nearest-even (1 Mi values, normal std 0.05)',
        unit: 'values',
        baseline: '@petamoriken/float16 new Float16Array(f32)',
        rows: [
          {
            name: 'halfstep encode float16',
            items: N,
            run: () => encode('float16', values, { out: out16 }),
          },
          {
            name: 'halfstep encode bfloat16',
            items: N,
            run: () => encode('bfloat16', values, { out: out16 }),
          },
          {
            name: 'halfstep encode float8e4m3',
            items: N,
            run: () => encode('float8e4m3', values, { out: out8 }),
          },
          {
            name: 'halfstep encode float8e5m2',
            items: N,
            run: () => encode('float8e5m2', values, { out: out8 }),
          },
          {
            name: '@petamoriken/float16 new Float16Array(f32)',
            items: N,
            run: () => new Float16Array(values),
          },
          {
            name: 'numpy astype(float16)',
            measure: () => numpy(`timed(lambda: x.astype(np.float16), ${N})`),
          },
        ],
      },
      {
        title: 'decode float16 -> float32 (1 Mi values)',
        unit: 'values',
        baseline: '@petamoriken/float16 element reads',
        rows: [
          {
            name: 'halfstep decode float16',
            items: N,
            run: () => decode('float16', halves, outF32),
          },
          {
            name: '@petamoriken/float16 element reads',
            items: N,
            run: () => {
              for (let i = 0; i < N; i++) outF32[i] = peerHalves[i]!;
              return outF32;
            },
          },
          {
            name: '@petamoriken/float16 getFloat16',
            items: N,
            run: () => {
              for (let i = 0; i < N; i++) outF32[i] = getFloat16(view, 2 * i, true);
              return outF32;
            },
          },
          {
            name: 'numpy astype(float32)',
            measure: () => numpy(`timed(lambda: h.astype(np.float32), ${N})`),
          },
        ],
      },
    ];
  },
};
