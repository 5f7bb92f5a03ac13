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

  it('forgets results that were awaited or succeeded, so a long run keeps none', async () => {
    const errors = new UnobservedErrors();
    for (let k = 0; k < 1000; k++) {
      const result = StepResult.of({ value: k });
      errors.add(result);
      if (k % 2 === 0)
        await result; // awaited
      else await result.errorOf(); // read back by the backend, succeeded
    }
    expect(errors.size).toBeLessThanOrEqual(1);
    const failed = StepResult.of<number>({ error: new Error('kept') });
    errors.add(failed);
    await failed.errorOf();
    errors.add(StepResult.of({ value: 0 }));
    expect(errors.size).toBe(2); // the unseen failure stays until reported
    await expect(errors.report()).rejects.toThrow('kept');
  });
});

describe('StepResult as a promise', () => {
  it('has catch and finally', async () => {
    let finished = 0;
    const caught = await StepResult.of<number>({ error: new Error('no') }).catch((e: unknown) =>
      String(e),
    );
    expect(caught).toBe('Error: no');
    expect(await StepResult.of({ value: 3 }).finally(() => finished++)).toBe(3);
    await expect(
      StepResult.of<number>({ error: new Error('again') }).finally(() => finished++),
    ).rejects.toThrow('again');
    expect(finished).toBe(2);
  });
});
