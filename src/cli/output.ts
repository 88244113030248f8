/** Terminal output helpers: plain lines when not a TTY, a live progress line when it is. */
export interface Reporter {
  line(text: string): void;
  progress(done: number, total: number, running: number, failed: number): void;
  end(): void;
}

export function createReporter(stream: NodeJS.WriteStream = process.stdout, quiet = false): Reporter {
  const tty = stream.isTTY === true && !quiet;
  let barShown = false;
  const clear = (): void => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  return {
    line(text) {
      if (quiet) return;
      clear();
      stream.write(text + '\n');
    },
    progress(done, total, running, failed) {
      if (!tty) return;
      const width = 30;
      const filled = total === 0 ? width : Math.round((done / total) * width);
      clear();
      stream.write(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} done, ${running} running${failed ? `, ${failed} failed` : ''}`);
      barShown = true;
    },
    end() {
      clear();
    },
  };
}

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatUsd(n: number | null): string {
  return n === null ? 'unknown' : `$${n.toFixed(4)}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}
