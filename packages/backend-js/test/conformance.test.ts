import { describeBackendConformance } from '@halfstep/backend/testing';
import { createJsBackend } from '../src/index.js';

// The reference backend against independent answers; its bit-identity check demands that a
// rerun reproduces every byte.
describeBackendConformance({ name: 'js', create: createJsBackend });
