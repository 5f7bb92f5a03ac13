import { describe, expect, it } from 'vitest';
import { StepResult, UnobservedErrors } from '../src/index.js';

describe('StepResult', () => {
  it('computes nothing until awaited, then once', async () => {
    let loads = 0;
    const result = new StepResult(async () => {
      loads++;
      return 42;
    });
    expect(loads).toBe(0);
    expect(result.observed).toBe(false);
    expect(await result).toBe(42);
    expect(await result).toBe(42);
    expect(loads).toBe(1);
    expect(result.observed).toBe(true);
  });

  it('delivers a known error to whoever awaits it', async () => {
    const result = StepResult.of<number>({ error: new RangeError('bad step') });
    await expect(result).rejects.toThrow('bad step');
  });
});

describe('UnobservedErrors', () => {
  it('reports the first error nobody awaited, once; awaited errors are not reported again', async () => {
    const errors = new UnobservedErrors();
    const seen = StepResult.of<number>({ error: new Error('seen') });
    errors.add(seen);
    await expect(seen).rejects.toThrow('seen');
    errors.add(StepResult.of({ value: 1 }));
    errors.add(StepResult.of({ error: new Error('first unseen') }));
    errors.add(StepResult.of({ error: new Error('second unseen') }));
    await expect(errors.report()).rejects.toThrow('first unseen');
    await expect(errors.report()).resolves.toBeUndefined();
  });
});
