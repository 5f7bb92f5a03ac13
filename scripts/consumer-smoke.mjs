// The browser smoke test of scripts/check-consumer.mjs: bundled from the installed tarballs and
// run in headless Chromium. Exports `smoke`, a promise of the checks' results.
import { registeredBackends } from '@halfstep/backend';
import '@halfstep/backend-wasm/register';
import { createWasmBackend } from '@halfstep/backend-wasm';
import '@halfstep/backend-webgpu/register';
import {
  CheckpointError,
  createEmbeddingBag,
  createEmbeddingBagCollection,
  sha256Hex,
} from '@halfstep/embedding';
import { sgd } from '@halfstep/optim';
import { createEngine } from '@halfstep/rng';
import { createPcgHash } from '@halfstep/rng/pcg-hash';
import { createPhilox } from '@halfstep/rng/philox';
import { createXorshift128Plus } from '@halfstep/rng/xorshift';
import { createXoshiro128PlusPlus } from '@halfstep/rng/xoshiro';

const checks = [];

async function check(name, body) {
  try {
    const detail = await body();
    checks.push({ name, ok: true, detail: detail === undefined ? '' : String(detail) });
  } catch (error) {
    checks.push({ name, ok: false, detail: String(error?.stack ?? error) });
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

async function trainedBag(backend) {
  const bag = await createEmbeddingBag({
    rows: 64,
    dim: 8,
    optimizer: sgd({ lr: 0.5 }),
    seed: 3,
    ...(backend === undefined ? {} : { backend }),
  });
  const forward = bag.forward([1, 2, 2, 9], [0, 3]);
  const [pooled] = await forward.read();
  assert(pooled.length === 16, `pooled ${pooled.length} values, expected 16`);
  await bag.backward(forward, new Float32Array(16).fill(0.25));
  return bag;
}

await check('a bag trains on the js backend', async () => {
  const bag = await trainedBag();
  assert(bag.backendName === 'js' && bag.step === 1, `${bag.backendName} step ${bag.step}`);
});

await check('checkpoint bytes: toSafetensors / loadSafetensors round trip', async () => {
  const bag = await trainedBag();
  const bytes = await bag.toSafetensors();
  assert(bytes instanceof Uint8Array && bytes.length > 0, 'no bytes');
  const copy = await createEmbeddingBag({ rows: 64, dim: 8, optimizer: sgd({ lr: 0.5 }), seed: 3 });
  await copy.loadSafetensors(bytes);
  assert(copy.step === 1, `restored step ${copy.step}`);
  assert(same(await copy.readRows(), await bag.readRows()), 'restored rows differ');
  const again = await copy.toSafetensors();
  assert(same(again, bytes), 'the restored bag saves different bytes');
  return `${bytes.length} bytes`;
});

await check('a collection restores from bytes and refuses corrupted ones', async () => {
  const config = [{ name: 'users', rows: 32, dim: 4, optimizer: sgd({ lr: 0.1 }) }];
  const tables = await createEmbeddingBagCollection(config, { seed: 5 });
  const bytes = await tables.toSafetensors();
  bytes[bytes.length - 1] ^= 0x10;
  try {
    await tables.loadSafetensors(bytes);
  } catch (error) {
    assert(error instanceof CheckpointError, `not a CheckpointError: ${error}`);
    assert(error.reason === 'checksum-mismatch', `reason ${error.reason}`);
    return error.message;
  }
  throw new Error('corrupted bytes were loaded');
});

await check('save(path) rejects with a CheckpointError pointing at the bytes API', async () => {
  const bag = await trainedBag();
  for (const attempt of [
    () => bag.save('model.safetensors'),
    () => bag.load('model.safetensors'),
  ]) {
    try {
      await attempt();
    } catch (error) {
      assert(error instanceof CheckpointError, `not a CheckpointError: ${error}`);
      assert(error.reason === 'unsupported', `reason ${error.reason}`);
      assert(/toSafetensors/.test(error.message), `message: ${error.message}`);
      continue;
    }
    throw new Error('a file checkpoint did not reject');
  }
});

await check('sha256Hex (Web Crypto, or plain JavaScript off secure contexts)', async () => {
  const hex = await sha256Hex(new TextEncoder().encode('abc'));
  assert(
    hex === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    `sha256("abc") = ${hex}`,
  );
  return globalThis.isSecureContext ? 'secure context' : 'not a secure context';
});

await check('backends by name: the register entries register wasm and webgpu', async () => {
  const names = registeredBackends();
  assert(names.includes('wasm') && names.includes('webgpu'), `registered: ${names}`);
  const bag = await trainedBag('wasm');
  assert(bag.backendName === 'wasm', `backend ${bag.backendName}`);
  const js = await trainedBag();
  assert(same(await bag.readRows(), await js.readRows()), 'wasm and js rows differ');
  return String(bag.backend.build);
});

await check('wasm threads are refused in a browser, saying why', async () => {
  try {
    await createWasmBackend({ threads: 2 });
  } catch (error) {
    assert(/Node\.js/.test(String(error?.message)), `message: ${error?.message}`);
    return error.message;
  }
  throw new Error('threads: 2 was accepted');
});

await check('an unknown backend name says how to register one', async () => {
  try {
    await createEmbeddingBag({ rows: 4, dim: 2, optimizer: sgd({ lr: 0.1 }), backend: 'nope' });
  } catch (error) {
    assert(/registerBackend/.test(String(error?.message)), `message: ${error?.message}`);
    return error.message;
  }
  throw new Error('backend "nope" was accepted');
});

await check('the per-engine entries give createEngine streams', async () => {
  const pairs = [
    [createXorshift128Plus(7), createEngine('xorshift128+', 7)],
    [createXoshiro128PlusPlus(7), createEngine('xoshiro128++', 7)],
    [createPhilox(7), createEngine('philox4x32-10', 7)],
    [createPcgHash(7), createEngine('pcg-hash', 7)],
  ];
  for (const [alone, named] of pairs) {
    const a = alone.fillUint32(new Uint32Array(8));
    const b = named.fillUint32(new Uint32Array(8));
    assert(same(a, b), `${named.name} differs`);
  }
});

export const smoke = checks;
