import { afterAll, expect, it } from 'vitest';
import { openDevice } from './device.js';
import { compareExact, exactOperands, referenceExact, runExact } from './exact.js';

const device = await openDevice();
const gpu = device.backend;
afterAll(() => gpu?.dispose());

const T = { timeout: 60_000 };
const N = 1 << 21;

it.skipIf(!gpu)(
  'div_exact equals Math.fround(x / y) on 2 Mi operand pairs (every class, ties, subnormals)',
  T,
  async () => {
    const { x, y } = exactOperands(N, 1);
    const got = await runExact(gpu!.device, 'div', x, y);
    expect(compareExact(x, y, got, referenceExact('div', x, y))).toEqual({
      mismatches: 0,
      examples: [],
    });
  },
);

it.skipIf(!gpu)(
  'sqrt_exact equals Math.fround(Math.sqrt(x)) on 2 Mi operands (every class, subnormals)',
  T,
  async () => {
    const { x, y } = exactOperands(N, 2);
    const got = await runExact(gpu!.device, 'sqrt', x, y);
    expect(compareExact(x, y, got, referenceExact('sqrt', x, y))).toEqual({
      mismatches: 0,
      examples: [],
    });
  },
);

it.skipIf(!gpu)('div_exact and sqrt_exact give the IEEE results at the edges', T, async () => {
  const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0]!;
  const pairs: [number, number, number][] = [
    [1, 0, Infinity],
    [-1, 0, -Infinity],
    [1, -0, -Infinity],
    [0, -3, -0],
    [Infinity, -2, -Infinity],
    [3, Infinity, 0],
    [2 ** -149, 2, 0], // halfway to zero: ties to even
    [3 * 2 ** -149, 2, 2 * 2 ** -149], // halfway between 1 and 2 units: ties to even
    [2 ** 127, 2 ** -2, Infinity],
    [1, 3, Math.fround(1 / 3)],
  ];
  const x = Uint32Array.from(pairs, (p) => bits(p[0]));
  const y = Uint32Array.from(pairs, (p) => bits(p[1]));
  expect(Array.from(await runExact(gpu!.device, 'div', x, y))).toEqual(
    pairs.map((p) => bits(p[2])),
  );
  const roots: [number, number][] = [
    [-0, -0],
    [0, 0],
    [Infinity, Infinity],
    [2 ** -149, Math.fround(Math.sqrt(2 ** -149))],
    [2, Math.fround(Math.SQRT2)],
    [4, 2],
  ];
  const r = Uint32Array.from(roots, (p) => bits(p[0]));
  expect(Array.from(await runExact(gpu!.device, 'sqrt', r, r))).toEqual(
    roots.map((p) => bits(p[1])),
  );
  const nan = await runExact(
    gpu!.device,
    'sqrt',
    Uint32Array.of(bits(-1), bits(-Infinity), bits(Number.NaN)),
    new Uint32Array(3),
  );
  for (const v of nan) expect(v & 0x7fffffff).toBeGreaterThan(0x7f800000);
  const nanDiv = await runExact(
    gpu!.device,
    'div',
    Uint32Array.of(0, bits(Infinity), bits(Number.NaN), 1),
    Uint32Array.of(0, bits(-Infinity), 1, bits(Number.NaN)),
  );
  for (const v of nanDiv) expect(v & 0x7fffffff).toBeGreaterThan(0x7f800000);
});
