import cliProgress from 'cli-progress';

/**
 * Progress on stderr, so that stdout stays clean for --json: a bar on a terminal, one line per
 * phase otherwise (CI logs, redirects).
 */
export interface Progress {
  note(line: string): void;
  beginRun(system: string, concurrency: number): void;
  update(elapsedMs: number, totalMs: number, ops: number): void;
  endRun(summary: string): void;
}

export function makeProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) {
    return { note: () => undefined, beginRun: () => undefined, update: () => undefined, endRun: () => undefined };
  }
  if (stream.isTTY !== true) {
    return {
      note: (line) => stream.write(`bench: ${line}\n`),
      beginRun: (system, c) => stream.write(`bench: ${system} with ${c} clients...\n`),
      update: () => undefined,
      endRun: (summary) => stream.write(`bench:   ${summary}\n`),
    };
  }
  let bar: cliProgress.SingleBar | null = null;
  return {
    note: (line) => stream.write(`bench: ${line}\n`),
    beginRun: (system, c) => {
      bar = new cliProgress.SingleBar({
        stream,
        format: `${system.padEnd(14)} ${String(c).padStart(4)} clients |{bar}| {percentage}% {ops} ops`,
        hideCursor: true,
        clearOnComplete: true,
      }, cliProgress.Presets.shades_classic);
      bar.start(100, 0, { ops: 0 });
    },
    update: (elapsedMs, totalMs, ops) => bar?.update(Math.floor((100 * elapsedMs) / totalMs), { ops }),
    endRun: (summary) => {
      bar?.stop();
      bar = null;
      stream.write(`bench:   ${summary}\n`);
    },
  };
}
