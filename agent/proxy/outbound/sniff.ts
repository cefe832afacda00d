import type { Socket } from 'node:net';

/** The HTTP/2 client connection preface (RFC 9113 §3.4): what an h2c prior-knowledge client sends first. */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Reads just enough of a new plain connection to tell h2c prior knowledge from HTTP/1.1, then
 * puts the bytes back (`unshift`) for whichever server takes the socket. HTTP/1.1 is decided
 * on the first byte that differs from the preface; h2 needs all 24 bytes. A client that sends
 * nothing within `timeoutMs` is dropped, as a headers timeout would.
 */
export function sniffHttpVersion(socket: Socket, timeoutMs: number, decide: (version: 'h2' | 'h1') => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  const stop = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const length = Math.min(seen.length, PREFACE.length);
    const isPreface = seen.subarray(0, length).equals(PREFACE.subarray(0, length));
    if (isPreface && seen.length < PREFACE.length) return;
    stop();
    socket.pause();
    socket.unshift(seen);
    decide(isPreface ? 'h2' : 'h1');
  };
  socket.on('data', onData);
  socket.once('close', stop);
}
