// ESLint (flat config): typescript-eslint's recommended rules everywhere, @convex-dev/eslint-plugin's
// recommended rules in convex/. Part of `npm test` (`npm run lint`).
import convexPlugin from "@convex-dev/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // Generated code and build output.
  { ignores: ["node_modules/", "dist/", "convex/_generated/", "scripts/cli/dist/", "scripts/console/dist/"] },
  ...tseslint.configs.recommended,
  ...convexPlugin.configs.recommended,
  {
    rules: {
      // A leading underscore marks a value left out on purpose (`{ secret: _secret, ...visible }`).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
    },
  },
  {
    files: ["convex/**/*.ts"],
    // Types let explicit-table-ids tell a table's id from any other string.
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Deployments are configured with `npx convex env set` and read through process.env (docs/deploying.md).
      "@convex-dev/no-process-env": "off",
      // A shorter index orders its range by _creationTime, a longer one by its further fields first: they serve different ordered reads.
      "@convex-dev/no-duplicate-indexes": "off",
    },
  },
  {
    files: ["test/**/*.ts", "scripts/**/*.ts"],
    rules: {
      // Tests and tools reach into JSON answers and convex-test internals whose shapes are not typed.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
);
