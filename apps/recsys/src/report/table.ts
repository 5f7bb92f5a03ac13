import type { TrainResult } from '../train/trainer.js';

/** A byte count in MiB with two decimals. */
export function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

/**
 * The comparison as a markdown table, one row per run: precision, validation log loss (and its
 * change relative to the first row), AUC, accuracy, embedding weight bytes (and the ratio to the
 * first row) and training examples/s.
 */
export function comparisonTable(results: readonly TrainResult[]): string {
  const base = results[0];
  const lines = [
    '| precision | backend | val logloss | vs first | val AUC | val accuracy | embedding bytes | vs first | train examples/s |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  if (base === undefined) return `${lines.join('\n')}\n`; // no results: the header alone
  for (const r of results) {
    const rel = ((r.validation.logloss - base.validation.logloss) / base.validation.logloss) * 100;
    lines.push(
      `| ${r.precision} | ${r.backend} | ${r.validation.logloss.toFixed(5)} | ${rel >= 0 ? '+' : ''}${rel.toFixed(3)}% | ${r.validation.auc.toFixed(5)} | ${r.validation.accuracy.toFixed(5)} | ${r.embeddingBytes} (${formatMiB(r.embeddingBytes)}) | ${(r.embeddingBytes / base.embeddingBytes).toFixed(3)}x | ${r.examplesPerSecond.toFixed(0)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
