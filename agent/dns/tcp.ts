import type { Socket } from 'node:net';
import { MAX_QUERY_BYTES } from './wire.js';

/** What one TCP connection needs from the server. */
export interface TcpSessionDeps {
  /** Answers one message (undefined: nothing to send), or 'limited' when the rate limit drops it. */
  readonly answer: (message: Buffer) => Buffer | undefined | 'limited';
  /**
   * A connection idle this long is closed, and a message must arrive whole within this long of
   * its first byte: a client dribbling one byte at a time cannot hold a connection open.
   */
  readonly timeoutMs: number;
}

const LENGTH_PREFIX = 2;

/**
 * Serves DNS over one TCP connection (RFC 7766): length-prefixed messages, pipelined queries
 * answered in order. A length past MAX_QUERY_BYTES or below a header closes the connection
 * before anything is buffered; a client that stops reading its answers stops being read.
 */
export function serveTcpConnection(socket: Socket, deps: TcpSessionDeps): void {
  socket.on('error', () => socket.destroy());
  socket.setNoDelay(true);
  socket.setTimeout(deps.timeoutMs, () => socket.destroy());
  let pending: Buffer = Buffer.alloc(0);
  let deadline: NodeJS.Timeout | undefined;
  const stopDeadline = (): void => {
    clearTimeout(deadline);
    deadline = undefined;
  };
  socket.on('close', stopDeadline);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < LENGTH_PREFIX) break;
      const length = pending.readUInt16BE(0);
      if (length < 12 || length > MAX_QUERY_BYTES) {
        socket.destroy();
        return;
      }
      if (pending.length < LENGTH_PREFIX + length) break;
      const message = pending.subarray(LENGTH_PREFIX, LENGTH_PREFIX + length);
      pending = pending.subarray(LENGTH_PREFIX + length);
      stopDeadline();
      if (!reply(socket, deps.answer(message))) return;
    }
    if (pending.length > 0 && deadline === undefined) deadline = setTimeout(() => socket.destroy(), deps.timeoutMs);
  });
}

/** Writes one answer with its length prefix; false once the connection is closed (rate limited). */
function reply(socket: Socket, answer: Buffer | undefined | 'limited'): boolean {
  if (answer === 'limited') {
    // A flood over TCP is cut: the client learns at once, and nothing more is read from it.
    socket.destroy();
    return false;
  }
  if (answer === undefined) return true;
  const prefix = Buffer.allocUnsafe(LENGTH_PREFIX);
  prefix.writeUInt16BE(answer.length);
  socket.write(prefix);
  if (!socket.write(answer)) {
    socket.pause();
    socket.once('drain', () => socket.resume());
  }
  return true;
}
