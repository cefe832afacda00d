import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary } from '../../support/servers/index.js';

const run = promisify(execFile);

/** What `dig` printed, read back: the status, the header flags and the answer section's records. */
export interface DigResult {
  readonly status: string;
  readonly flags: readonly string[];
  /** `name ttl class type data` per answer record, whitespace collapsed. */
  readonly answers: readonly string[];
  readonly output: string;
}

/** Runs Debian's `dig` (bind9-dnsutils) against 127.0.0.1:`port`, one try, 2 s timeout. */
export async function dig(port: number, args: readonly string[]): Promise<DigResult> {
  const { stdout } = await run(findBinary('dig'), ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', ...args], { timeout: 10_000 });
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'none';
  const flags = (/;; flags: ([a-z ]+);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/);
  const section = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|$)/.exec(stdout)?.[1] ?? '';
  const answers = section.split('\n').filter((line) => line.trim() !== '').map((line) => line.trim().split(/\s+/).join(' '));
  return { status, flags, answers, output: stdout };
}
