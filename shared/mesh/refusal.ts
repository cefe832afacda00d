import { constants, type ServerHttp2Stream } from 'node:http2';
import { MeridianError, type ErrorCode } from '../errors/index.js';

/** Response header carrying why a CONNECT was not accepted (the body repeats it for humans). */
export const REASON_HEADER = 'meridian-reason';

const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'MERIDIAN_ERR_BAD_ARGUMENT',
  403: 'MERIDIAN_ERR_FORBIDDEN',
  404: 'MERIDIAN_ERR_NOT_FOUND',
  502: 'MERIDIAN_ERR_BAD_GATEWAY',
  503: 'MERIDIAN_ERR_UNAVAILABLE',
  504: 'MERIDIAN_ERR_TIMEOUT',
};

/** The MeridianError for a refused CONNECT: its code follows the status, `details` keep both. */
export function refusalError(status: number, reason: string, details: Readonly<Record<string, unknown>> = {}): MeridianError {
  const code = CODE_BY_STATUS[status] ?? 'MERIDIAN_ERR_BAD_GATEWAY';
  return new MeridianError(code, reason, { details: { ...details, status, reason } });
}

/** Header values must be visible ASCII; reasons quote peer input, so anything else is replaced. */
export function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 512);
}

/** Answers a CONNECT with a refusal; harmless when the caller has already gone. */
export function refuse(stream: ServerHttp2Stream, status: number, reason: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_CANCEL);
    return;
  }
  const safe = headerSafe(reason);
  stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', [REASON_HEADER]: safe });
  stream.end(`${safe}\n`);
}

/** Refuses with the status a MeridianError maps to; any other error is an internal 502. */
export function refuseWithError(stream: ServerHttp2Stream, error: unknown): void {
  if (error instanceof MeridianError) refuse(stream, error.statusCode, error.message);
  else refuse(stream, 502, `gateway error: ${(error as Error).message}`);
}
