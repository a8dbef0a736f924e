import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The fence around the deterministic core must actually fail on impure code. We lint source text
// as if it lived in src/protocols (and, for contrast, in src/node where it is allowed).
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}
const cwd = repoRoot();

async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd });
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const cases: Array<[string, string]> = [
  ['Date.now()', 'export const t = Date.now();\n'],
  ['Math.random()', 'export const r = Math.random();\n'],
  ['setTimeout', 'export function f(): void { setTimeout(() => undefined, 1); }\n'],
  ['node: import', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n"],
  ['async function', 'export async function f(): Promise<number> { return 1; }\n'],
  ['performance.now()', 'export const t = performance.now();\n'],
];

for (const [what, code] of cases) {
  test(`lint refuses ${what} in src/protocols`, async () => {
    const messages = await lintAs('src/protocols/raft/lint-probe.ts', code);
    assert.ok(messages.length > 0, `expected a lint error for ${what}`);
  });
}

test('the same Date.now() is allowed in src/node', async () => {
  const messages = await lintAs('src/node/lint-probe.ts', 'export const t = Date.now();\n');
  assert.deepEqual(messages.filter((m) => !m.includes('not found by the project service') && !m.startsWith('parse')), []);
});
