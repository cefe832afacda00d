import { connect } from 'node:net';
import { describeError, hostPort } from './reasons.js';
import type { Probe, ProbeOutcome } from './types.js';

/** Where a TCP probe connects. */
export interface TcpTarget {
  readonly host: string;
  readonly port: number;
}

/** Passes when a TCP connection is established; the connection is closed at once. */
export function tcpProbe(target: TcpTarget): Probe {
  return {
    run: (signal) => tcpConnect(target, signal),
    close: () => undefined,
  };
}

function tcpConnect(target: TcpTarget, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    const finish = (outcome: ProbeOutcome): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ ok: false, reason: 'aborted' });
    socket.once('connect', () => finish({ ok: true, reason: `connected to ${hostPort(target.host, target.port)}` }));
    // Stays attached: a socket destroyed mid-handshake may still report an error.
    socket.on('error', (err) => finish({ ok: false, reason: describeError(err) }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
