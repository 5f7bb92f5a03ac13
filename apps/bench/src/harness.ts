/**
 * The benchmark harness: groups of rows measured side by side in one process, on the same data,
 * each table printed with the ratio of every row to a named baseline row of the same run.
 */

/** A row measured in this process: `run()` processes `items` items once. */
export interface LocalRow {
  readonly name: string;
  /** Items one call of `run` processes (values encoded, words drawn, row updates, ...). */
  readonly items: number;
  /** Does the work once. Its result is kept so that the engine cannot drop the work. */
  run(): unknown;
}

/** A row measured outside this process (numpy, PyTorch): it reports items per second itself. */
export interface ExternalRow {
  readonly name: string;
  /** Items per second, or the reason this peer could not be measured (e.g. "not installed"). */
  measure(): Promise<Measured>;
}

/** What an external measurement returns. */
export type Measured = { readonly itemsPerSecond: number } | { readonly unavailable: string };

/** One row of a table. */
export type BenchRow = LocalRow | ExternalRow;

/** One printed table: rows compared against the row named `baseline`. */
export interface BenchTable {
  readonly title: string;
  /** What one item is, in the plural: "values", "words", "row updates". */
  readonly unit: string;
  /** Name of the row every ratio is computed against. */
  readonly baseline: string;
  readonly rows: readonly BenchRow[];
}

/** A named group of tables, selected on the command line by its name (`pnpm bench codecs`). */
export interface BenchGroup {
  readonly name: string;
  /** Builds the tables; data is created here, once, and shared by the rows of a table. */
  tables(): BenchTable[] | Promise<BenchTable[]>;
}

/** The outcome of one row. */
export interface RowResult {
  readonly name: string;
  /** Median throughput over the measured rounds, or null when unavailable. */
  readonly itemsPerSecond: number | null;
  /** Throughput divided by the baseline row's, or null when either is unavailable. */
  readonly ratio: number | null;
  readonly note?: string;
}

/** The outcome of one table. */
export interface TableResult {
  readonly group: string;
  readonly title: string;
  readonly unit: string;
  readonly baseline: string;
  readonly rows: readonly RowResult[];
}

/** How long to measure. */
export interface RunOptions {
  /** Milliseconds of measurement per row and round. */
  readonly roundMs: number;
  /** Rounds per row; rows of a table are interleaved round by round so drift hits all alike. */
  readonly rounds: number;
}

function isLocal(row: BenchRow): row is LocalRow {
  return 'run' in row;
}

let sink: unknown;

/** Calls `row.run` repeatedly for about `ms` milliseconds; returns items per second. */
function timeRow(row: LocalRow, ms: number): number {
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    sink = row.run();
    calls++;
    elapsed = performance.now() - start;
  } while (elapsed < ms);
  return (calls * row.items) / (elapsed / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Measures every row of a table and computes the ratios to its baseline. */
export async function runTable(
  group: string,
  table: BenchTable,
  options: RunOptions,
): Promise<TableResult> {
  const samples = new Map<string, number[]>();
  const notes = new Map<string, string>();
  const local = table.rows.filter(isLocal);
  for (const row of local) timeRow(row, Math.min(200, options.roundMs)); // warm-up: let the JIT settle
  for (let round = 0; round < options.rounds; round++) {
    for (const row of local) {
      const list = samples.get(row.name) ?? [];
      list.push(timeRow(row, options.roundMs));
      samples.set(row.name, list);
    }
  }
  for (const row of table.rows) {
    if (isLocal(row)) continue;
    const measured = await row.measure();
    if ('itemsPerSecond' in measured) samples.set(row.name, [measured.itemsPerSecond]);
    else notes.set(row.name, measured.unavailable);
  }
  const throughput = (name: string) => {
    const list = samples.get(name);
    return list ? median(list) : null;
  };
  if (!table.rows.some((row) => row.name === table.baseline)) {
    throw new Error(
      `bench table "${table.title}": baseline "${table.baseline}" is not one of its rows`,
    );
  }
  const base = throughput(table.baseline);
  return {
    group,
    title: table.title,
    unit: table.unit,
    baseline: table.baseline,
    rows: table.rows.map((row) => {
      const value = throughput(row.name);
      const note = notes.get(row.name);
      return {
        name: row.name,
        itemsPerSecond: value,
        ratio: value !== null && base !== null ? value / base : null,
        ...(note === undefined ? {} : { note }),
      };
    }),
  };
}

function formatRate(perSecond: number): string {
  if (perSecond >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(1);
}

/** Renders a table result as a markdown table. */
export function formatTable(result: TableResult): string {
  const lines = [
    `### ${result.group}: ${result.title}`,
    '',
    `| case | ${result.unit}/s | vs ${result.baseline} |`,
    '| --- | ---: | ---: |',
  ];
  for (const row of result.rows) {
    const rate = row.itemsPerSecond === null ? (row.note ?? 'n/a') : formatRate(row.itemsPerSecond);
    const ratio = row.ratio === null ? '—' : `${row.ratio.toFixed(2)}x`;
    lines.push(`| ${row.name} | ${rate} | ${ratio} |`);
  }
  return lines.join('\n');
}

/** Keeps the last result of any row alive so that no benchmark is optimised away. */
export function lastSink(): unknown {
  return sink;
}
