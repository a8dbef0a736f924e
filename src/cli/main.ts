#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { QuorateError } from '../core/index.js';
import { registerCommands } from './commands/index.js';

/** The `quorate` command. Each subcommand lives in src/cli/commands/<name>.ts. */
export function buildProgram(): Command {
  const program = new Command('quorate')
    .description('quorate: Raft, Multi-Paxos and Zab, a replicated KV store, and a deterministic simulator')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  registerCommands(program);
  return program;
}

const usageCodes: ReadonlySet<string> = new Set(['bad_config', 'bad_request', 'decode', 'corrupt', 'too_large']);

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    if (err instanceof QuorateError) {
      process.stderr.write(`quorate: ${err.message} (${err.code})\n`);
      // 2: what the operator gave cannot be used (a flag, a file); 1: it was fine, the run failed
      // (no quorum, a refused credential, a network or trust failure).
      process.exitCode = usageCodes.has(err.code) ? 2 : 1;
      return;
    }
    throw err;
  }
}

await main();
