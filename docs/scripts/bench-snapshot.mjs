// Copies the latest `pnpm bench` results into the docs' committed snapshot:
// `pnpm --filter @halfstep/docs bench:snapshot` (run `pnpm bench` first).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(docs, '..', 'apps', 'bench', 'results', 'latest.json');
const target = join(docs, 'data', 'bench.json');

let results;
try {
  results = JSON.parse(readFileSync(source, 'utf8'));
} catch (error) {
  console.error(`cannot read ${source} (run \`pnpm bench\` first): ${error.message}`);
  process.exit(1);
}
if (!results.machine || !Array.isArray(results.results)) {
  console.error(`${source} lacks "machine" or "results": not a pnpm bench result file`);
  process.exit(1);
}
writeFileSync(target, `${JSON.stringify(results, null, 2)}\n`);
const tables = results.results.length;
console.log(
  `copied ${tables} table(s) measured ${results.date} on ${results.machine.cpu} to ${target}`,
);
