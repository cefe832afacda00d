import { MeridianError } from './meridian-error.js';

/** A configured listener: the config field that sets its port, and where it binds. */
export interface ListenTarget {
  /** JSON pointer of the port in the role's config, e.g. `/api/port`. */
  readonly field: string;
  readonly host: string;
  readonly port: number;
}

const REASONS: Readonly<Record<string, (t: ListenTarget) => string>> = {
  EADDRINUSE: (t) => `port ${t.port} on ${t.host} is already in use by another process (stop it, or configure another port)`,
  EACCES: (t) => `not allowed to listen on ${t.host}:${t.port} (ports below 1024 need privileges)`,
  EADDRNOTAVAIL: (t) => `${t.host} is not an address of this machine (cannot listen on ${t.host}:${t.port})`,
};

/** The errno error inside `error` (a listen error may arrive wrapped), if any. */
function errnoError(error: unknown): (NodeJS.ErrnoException & { port?: number }) | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException & { port?: number }).code;
    if (code !== undefined && code in REASONS) return e;
  }
  return undefined;
}

/**
 * Turns a failed listen into an error naming the config field, instead of a raw stack trace:
 * EADDRINUSE becomes MERIDIAN_ERR_PORT_IN_USE, a forbidden port or foreign address
 * MERIDIAN_ERR_CONFIG_INVALID. Of several `targets`, the one whose port the error names is
 * blamed (the first when it names none). Undefined when `error` is no listen error.
 */
export function listenFailure(error: unknown, targets: readonly ListenTarget[]): MeridianError | undefined {
  const errno = errnoError(error);
  if (errno?.code === undefined) return undefined;
  const target = targets.find((t) => t.port !== 0 && t.port === errno.port) ?? (targets.length === 1 ? targets[0] : undefined);
  if (target === undefined) return undefined;
  const reason = REASONS[errno.code]?.(target) ?? errno.message;
  return new MeridianError(errno.code === 'EADDRINUSE' ? 'MERIDIAN_ERR_PORT_IN_USE' : 'MERIDIAN_ERR_CONFIG_INVALID', `${target.field}: ${reason}`, {
    cause: error,
    details: { field: target.field, host: target.host, port: target.port },
  });
}
