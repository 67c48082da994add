/** The process entry of `ias` (bin.mjs runs it, bundled or through tsx): main.ts with this process's argv. */
import { main } from "./main";

process.exitCode = await main(process.argv.slice(2));
