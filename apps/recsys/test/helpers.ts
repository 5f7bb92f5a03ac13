import {
  type Backend,
  createBackend,
  registerBackend,
  registeredBackends,
} from '@halfstep/backend';
import { jsBackend } from '@halfstep/backend-js';
import type { DlrmConfig } from '../src/model/config.js';

/** A fresh JS backend instance. */
export async function jsInstance(): Promise<Backend> {
  if (!registeredBackends().includes('js')) registerBackend(jsBackend);
  return createBackend('js');
}

/** A small DLRM for tests: 13 dense features, 26 tables, dim 4. */
export function smallConfig(tableSizes: readonly number[], dim = 4): DlrmConfig {
  return { denseFeatures: 13, bottom: [8, dim], top: [6, 1], embeddingDim: dim, tableSizes };
}
