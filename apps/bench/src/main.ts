import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { groups } from './groups/index.js';
import { formatTable, runTable, type TableResult } from './harness.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'round-ms': { type: 'string', default: '300' },
    rounds: { type: 'string', default: '5' },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});

const unknown = positionals.filter((name) => !groups.some((group) => group.name === name));
if (unknown.length > 0) {
  console.error(
    `unknown benchmark group(s): ${unknown.join(', ')}; known: ${groups.map((g) => g.name).join(', ')}`,
  );
  process.exit(2);
}
const selected = positionals.length ? groups.filter((g) => positionals.includes(g.name)) : groups;
const options = values.quick
  ? { roundMs: 50, rounds: 3 }
  : { roundMs: Number(values['round-ms']), rounds: Number(values.rounds) };

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
console.log(
  `# halfstep benchmarks\n\n${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}\n`,
);

const results: TableResult[] = [];
for (const group of selected) {
  for (const table of await group.tables()) {
    const result = await runTable(group.name, table, options);
    results.push(result);
    console.log(`${formatTable(result)}\n`);
  }
}

const here = dirname(fileURLToPath(import.meta.url));
const out = values.out ?? join(here, '..', 'results', 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), machine, options, results }, null, 2)}\n`,
);
console.log(`results written to ${out}`);
