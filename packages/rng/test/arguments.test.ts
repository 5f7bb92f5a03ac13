import { describe, expect, it } from 'vitest';
import {
  type CounterEngine,
  createEngine,
  createPhilox,
  ENGINE_NAMES,
  type EngineName,
  restoreEngine,
} from '../src/index.js';

describe('engine arguments', () => {
  for (const name of ENGINE_NAMES) {
    it(`${name}: fillUint32 takes a Uint32Array only`, () => {
      const engine = createEngine(name, 7);
      const reference = createEngine(name, 7).fillUint32(new Uint32Array(4));
      expect(() => engine.fillUint32(new Float32Array(4) as never)).toThrow(
        new TypeError('fillUint32: out: expected a Uint32Array, got Float32Array'),
      );
      expect(() => engine.fillUint32(4 as never)).toThrow(
        new TypeError('fillUint32: out: expected a Uint32Array, got number 4'),
      );
      expect(() => engine.fillUint32(undefined as never)).toThrow(TypeError);
      expect(() => engine.fillUint32([0, 0] as never)).toThrow(/got Array/);
      expect(() => engine.fillUint32(new Int32Array(4) as never)).toThrow(TypeError);
      // A rejected call draws nothing: the stream goes on where it was.
      expect([...engine.fillUint32(new Uint32Array(4))]).toEqual([...reference]);
      if (engine.kind === 'counter') {
        const counter = engine as CounterEngine;
        expect(() => counter.fillAt(0, new Float32Array(2) as never)).toThrow(
          new TypeError('fillAt: out: expected a Uint32Array, got Float32Array'),
        );
        expect([...counter.fillAt(0, new Uint32Array(4))]).toEqual([...reference]);
      }
    });
  }

  it('createEngine: a TypeError for a missing or non-string name or seed, naming it', () => {
    expect(() => createEngine(undefined as never, 1)).toThrow(TypeError);
    expect(() => createEngine(3 as never, 1)).toThrow(
      /^createEngine: name: expected an engine name \(xorshift32, .*\), got number 3$/,
    );
    expect(() => createEngine('xorshift32', undefined as never)).toThrow(
      new TypeError('createEngine: seed must be a number or a bigint, got undefined'),
    );
    expect(() => createEngine('mt19937' as EngineName, 1)).toThrow(RangeError);
    expect(() => createEngine('mt19937' as EngineName, 1)).toThrow(
      /createEngine: name must be one of xorshift32, .*; got "mt19937"/,
    );
    expect(createEngine('pcg-hash', 1n).name).toBe('pcg-hash');
  });

  it('createPhilox: unknown option keys and bad rounds are rejected', () => {
    expect(() => createPhilox(1, { round: 7 } as never)).toThrow(
      new TypeError('createPhilox: unknown option "round" (did you mean rounds?); expected rounds'),
    );
    expect(() => createPhilox(1, 7 as never)).toThrow(
      /createPhilox: options: expected an options object \{ rounds \}, got number 7/,
    );
    expect(() => createPhilox(1, { rounds: '7' as never })).toThrow(TypeError);
    expect(() => createPhilox(1, { rounds: 8 as 7 })).toThrow(RangeError);
    expect(() => createPhilox(undefined as never)).toThrow(/createPhilox: seed/);
    expect(createPhilox(1, { rounds: 7 }).name).toBe('philox4x32-7');
    expect(createPhilox(1, { rounds: undefined }).name).toBe('philox4x32-10');
  });

  it('restoreEngine names the snapshot', () => {
    expect(() => restoreEngine(null as never)).toThrow(
      new TypeError('restoreEngine: snapshot: expected an object { name, words }, got null'),
    );
    expect(() => restoreEngine({ name: 'nope' as EngineName, words: [] })).toThrow(
      /restoreEngine: snapshot.name must be one of/,
    );
  });
});
