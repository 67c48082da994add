/** Types of mainBundle.mjs (plain JavaScript: `npm start` runs it before any TypeScript loads). */
export declare const MAIN_CACHE_DIR: string;
export declare const MODULES_KEY: string;
export declare function mainEntry(log: (line: string) => void, cacheDir?: string): URL | null;
export declare function sourceFiles(dir: string): string[];
