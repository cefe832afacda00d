import { once } from 'node:events';
import net from 'node:net';

/** An HTTP/1.1 response read off a raw socket. */
export interface RawReply {
  /** 0 when the server sent nothing. */
  status: number;
  /** Header names lower-cased; the last of repeated headers. */
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection (within the wait). */
  closed: boolean;
}

/** A chunked body's data (RFC 9112 §7.1), trailers dropped; what was cut short stays cut. */
function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    const size = lineEnd < 0 ? 0 : parseInt(text.slice(at, lineEnd), 16);
    if (!(size > 0)) return out;
    out += text.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
}

/** Parses a response as received (head, then a body by content-length or chunked); status 0 when there is no status line. */
export function parseRawReply(text: string, closed: boolean): RawReply {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  let body = end < 0 ? '' : text.slice(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) body = body.slice(0, Number(length));
  else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = unchunk(body);
  return { status, headers, body, closed };
}

/**
 * Sends `request` as is (malformed on purpose, often) on a fresh connection to 127.0.0.1:`port`
 * and reads the first response: until the server closes, or `waitMs` after the first response
 * is complete (a keep-alive connection stays open).
 */
export async function rawHttp1(port: number, request: string | Buffer, waitMs = 200): Promise<RawReply> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  let closed = false;
  socket.on('error', () => undefined);
  const settled = new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(resolve, waitMs);
    });
    socket.once('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    // A server that answers nothing and keeps the connection: give up after a bounded wait.
    setTimeout(resolve, 5_000).unref();
  });
  socket.write(request);
  await settled;
  socket.destroy();
  return parseRawReply(text, closed);
}

/** The JSON error body of a Meridian refusal. */
export function errorBody(reply: RawReply | { body: Buffer | string }): { code: string; message: string } {
  return JSON.parse(String(reply.body)) as { code: string; message: string };
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** HTTP/2 frame types and flags this client uses (RFC 9113 §6). */
export const H2 = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, END_STREAM: 1, END_HEADERS: 4, ACK: 1 } as const;

/** One HTTP/2 frame: 9-byte header, then the payload. */
export function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK string literal (no Huffman; lengths below 127). */
function hpackString(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  if (bytes.length >= 127) throw new RangeError(`hpackString: ${bytes.length} bytes is past this encoder's 7-bit length`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/**
 * An HPACK header block built from literals, never indexed (RFC 7541 §6.2.2), so each block
 * stands alone: `:method` GET, `:scheme` http, then `fields` in order, repeats and all.
 */
export function hpackBlock(fields: readonly (readonly [string, string])[]): Buffer {
  // 0x82 = indexed :method GET, 0x86 = indexed :scheme http (RFC 7541 Appendix A).
  const parts: Buffer[] = [Buffer.from([0x82, 0x86])];
  for (const [name, value] of fields) parts.push(Buffer.from([0x10]), hpackString(name), hpackString(value));
  return Buffer.concat(parts);
}

/** What a raw HTTP/2 client saw from the server. */
export interface RawH2State {
  /** The first GOAWAY: its last stream id and error code. */
  goaway: { lastStreamId: number; code: number } | undefined;
  /** Response HEADERS frames per stream (the first one carries `:status`, which this client does not decode). */
  readonly responses: Set<number>;
  /** RST_STREAM codes per stream. */
  readonly resets: Map<number, number>;
  closed: boolean;
}

/** A raw h2c prior-knowledge connection: frames go out exactly as written, incoming ones are tallied. */
export interface RawH2 {
  readonly socket: net.Socket;
  readonly state: RawH2State;
  write(frames: Buffer): void;
  close(): void;
}

function readFrames(socket: net.Socket, state: RawH2State): void {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const [type, flags] = [buffered[3], buffered[4] ?? 0];
      const streamId = buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = buffered.subarray(9, 9 + length);
      buffered = buffered.subarray(9 + length);
      if (type === H2.SETTINGS && (flags & H2.ACK) === 0) socket.write(h2Frame(H2.SETTINGS, H2.ACK, 0));
      else if (type === H2.PING && (flags & H2.ACK) === 0) socket.write(h2Frame(H2.PING, H2.ACK, 0, payload));
      else if (type === H2.GOAWAY) state.goaway ??= { lastStreamId: payload.readUInt32BE(0) & 0x7fffffff, code: payload.readUInt32BE(4) };
      else if (type === H2.HEADERS) state.responses.add(streamId);
      else if (type === H2.RST_STREAM) state.resets.set(streamId, payload.readUInt32BE(0));
    }
  });
}

/** Opens a raw h2c connection to 127.0.0.1:`port`: preface and empty SETTINGS sent, the server's SETTINGS and PINGs acknowledged. */
export async function rawH2(port: number): Promise<RawH2> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.setNoDelay(true);
  const state: RawH2State = { goaway: undefined, responses: new Set(), resets: new Map(), closed: false };
  socket.on('error', () => undefined);
  socket.once('close', () => (state.closed = true));
  readFrames(socket, state);
  socket.write(Buffer.concat([PREFACE, h2Frame(H2.SETTINGS, 0, 0)]));
  return { socket, state, write: (frames) => socket.write(frames), close: () => socket.destroy() };
}
