/**
 * The `halfstep-recsys` command line (see `program.ts`); run it through `bin/halfstep-recsys.js`.
 * @module
 */
import { main } from './program.js';

await main(process.argv);
