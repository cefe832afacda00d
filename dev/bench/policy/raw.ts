import type { NatsConnection } from '@nats-io/transport-node';

const RAW_SUBJECT = '_INBOX.meridian-bench.policy';
/** The baseline's label in the rows. */
export const RAW_BASELINE = 'raw NATS publish at A -> subscriber at each of 3 sites';

/** Timings of one side of a policy bench. */
export interface Samples {
  /** ms from before the call until the last site's agent/subscriber had it. */
  readonly all: number[];
  /** ms until the call returned (applyPolicy: the publish acknowledged by the origin). */
  readonly acked: number[];
  timeouts: number;
  errors: string[];
}

export const emptySamples = (): Samples => ({ all: [], acked: [], timeouts: 0, errors: [] });

/** The baseline: one core NATS message published at A, timed until a plain subscriber at each site received it. */
export async function rawSide(publisher: NatsConnection, readers: readonly NatsConnection[], payload: Uint8Array): Promise<{ once(samples: Samples | undefined, timeoutMs: number): Promise<void>; close(): void }> {
  let expected = '';
  let waiting: { left: Set<number>; done: () => void } | undefined;
  let last = 0;
  const subs = readers.map((nc, index) =>
    nc.subscribe(`${RAW_SUBJECT}.>`, {
      callback: (_error, message) => {
        if (waiting === undefined || message.subject !== expected || !waiting.left.delete(index)) return;
        last = performance.now();
        if (waiting.left.size === 0) waiting.done();
      },
    }),
  );
  await Promise.all(readers.map((nc) => nc.flush()));
  let sequence = 0;
  return {
    async once(samples, timeoutMs) {
      expected = `${RAW_SUBJECT}.${++sequence}`;
      const arrived = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        waiting = { left: new Set(readers.map((_, i) => i)), done: () => (clearTimeout(timer), resolve(true)) };
      });
      const started = performance.now();
      publisher.publish(expected, payload);
      const ok = await arrived;
      waiting = undefined;
      if (samples === undefined) return;
      if (!ok) samples.timeouts++;
      else samples.all.push(last - started);
    },
    close: () => subs.forEach((s) => s.unsubscribe()),
  };
}

