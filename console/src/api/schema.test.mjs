// schema.ts is made from docs/openapi.json by `npm run api-types` and committed, so that a build
// needs no generation step; this test keeps the two from drifting apart. It asks the generator
// itself (its --check, with the script's own arguments), and is JavaScript because the console's
// type check has no Node types.
import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const consoleDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

it("schema.ts is what the generator makes from docs/openapi.json", () => {
  const check = spawnSync("npm", ["run", "--silent", "api-types", "--", "--check"], { cwd: consoleDir, encoding: "utf8" });
  expect(check.error, "npm could not be started").toBeUndefined();
  const stale = `src/api/schema.ts differs from docs/openapi.json: run \`npm run api-types\` in console/ and commit the result\n${check.stdout}${check.stderr}`;
  expect(check.status, stale).toBe(0);
});
