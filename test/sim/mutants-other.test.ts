import { test } from 'node:test';
import { mutantSuite, otherProtocols } from './mutants.js';

// Any registered protocol without a suite file of its own is checked here, mutant by mutant.
const others = otherProtocols();
for (const p of others) mutantSuite(p);
if (others.length === 0) test('every registered protocol has its own mutant suite file', () => undefined);
