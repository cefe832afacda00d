import { isMeridianError } from './meridian-error.js';

/**
 * The status and JSON body an HTTP API answers an error with: a MeridianError's own code and
 * status; a framework error below 500 (validation, bad JSON, body too large) as a bad argument;
 * anything else as an internal error.
 */
export function errorResponse(error: Error & { statusCode?: number }): { status: number; body: { code: string; message: string } } {
  if (isMeridianError(error)) return { status: error.statusCode, body: error.toJSON() };
  const status = error.statusCode !== undefined && error.statusCode < 500 ? error.statusCode : 500;
  return { status, body: { code: status < 500 ? 'MERIDIAN_ERR_BAD_ARGUMENT' : 'MERIDIAN_ERR_INTERNAL', message: error.message } };
}
