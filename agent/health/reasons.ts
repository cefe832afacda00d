import { isIPv6 } from 'node:net';

/**
 * The reason text of a failed probe: Node's own socket messages are already precise
 * (`connect ECONNREFUSED 127.0.0.1:1234`, `getaddrinfo ENOTFOUND db`), so they are kept as is.
 */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.length > 0 ? err.message : err.name;
  return String(err);
}

/** The reason of a probe that hit its deadline. */
export function timeoutReason(timeoutMs: number): string {
  return `timeout after ${timeoutMs} ms`;
}

/** `host:port`, with an IPv6 literal in brackets so the port stays readable. */
export function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
