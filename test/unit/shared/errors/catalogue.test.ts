import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ERROR_STATUS, MeridianError, isMeridianError } from '../../../../shared/errors/index.js';
import { errorResponse } from '../../../../shared/errors/http.js';

/**
 * The error catalogue is a public contract: scripts, the status API and the CLI match on these
 * codes and HTTP statuses. Changing one is a breaking change and must be deliberate, so the whole
 * table is pinned here.
 */
const CATALOGUE = {
  MERIDIAN_ERR_CONFIG_INVALID: 400,
  MERIDIAN_ERR_BAD_ARGUMENT: 400,
  MERIDIAN_ERR_SPIFFE_ID_INVALID: 400,
  MERIDIAN_ERR_TRUST_DOMAIN_MISMATCH: 403,
  MERIDIAN_ERR_SITE_SCOPE: 403,
  MERIDIAN_ERR_CSR_INVALID: 400,
  MERIDIAN_ERR_CERT_INVALID: 400,
  MERIDIAN_ERR_CERT_USAGE: 400,
  MERIDIAN_ERR_CERT_EXPIRED: 401,
  MERIDIAN_ERR_TRUST_DOCUMENT: 400,
  MERIDIAN_ERR_PEER_IDENTITY: 401,
  MERIDIAN_ERR_FILE_IO: 500,
  MERIDIAN_ERR_FILE_PERMISSIONS: 500,
  MERIDIAN_ERR_BINARY_MISSING: 500,
  MERIDIAN_ERR_PROCESS_START: 500,
  MERIDIAN_ERR_TIMEOUT: 504,
  MERIDIAN_ERR_CATALOG_UNAVAILABLE: 503,
  MERIDIAN_ERR_NOT_FOUND: 404,
  MERIDIAN_ERR_CONFLICT: 409,
  MERIDIAN_ERR_INTERNAL: 500,
  MERIDIAN_ERR_FORBIDDEN: 403,
  MERIDIAN_ERR_BAD_GATEWAY: 502,
  MERIDIAN_ERR_UNAVAILABLE: 503,
  MERIDIAN_ERR_BAD_AUTHORITY: 400,
  MERIDIAN_ERR_MISDIRECTED: 421,
  MERIDIAN_ERR_SERVICE_UNKNOWN: 502,
  MERIDIAN_ERR_UPSTREAM_CONNECT: 502,
  MERIDIAN_ERR_UPSTREAM_RESET: 502,
  MERIDIAN_ERR_UPSTREAM_PROTOCOL: 502,
  MERIDIAN_ERR_NO_HEALTHY_UPSTREAM: 503,
  MERIDIAN_ERR_SERVICE_NOT_LOCAL: 503,
  MERIDIAN_ERR_BAD_REQUEST: 400,
  MERIDIAN_ERR_REQUEST_TIMEOUT: 408,
  MERIDIAN_ERR_HEADERS_TOO_LARGE: 431,
  MERIDIAN_ERR_METHOD_NOT_ALLOWED: 405,
  MERIDIAN_ERR_UPGRADE_UNSUPPORTED: 501,
  MERIDIAN_ERR_CONSUL_UNSUPPORTED: 501,
  MERIDIAN_ERR_UNAUTHORIZED: 401,
  MERIDIAN_ERR_UNHEALTHY: 503,
  MERIDIAN_ERR_STATUS_REPORT_TOO_LARGE: 500,
  MERIDIAN_ERR_JETSTREAM_DISABLED: 503,
  MERIDIAN_ERR_BUCKET_MISSING: 503,
  MERIDIAN_ERR_PORT_IN_USE: 409,
  MERIDIAN_ERR_ABORTED: 503,
  MERIDIAN_ERR_ROTATION_IN_PROGRESS: 409,
  MERIDIAN_ERR_ROTATION_NOT_STARTED: 409,
  MERIDIAN_ERR_ROTATION_INCOMPLETE: 409,
  MERIDIAN_ERR_JOIN_TOKEN_INVALID: 401,
  MERIDIAN_ERR_JOIN_TOKEN_USED: 409,
  MERIDIAN_ERR_JOIN_TOKEN_EXPIRED: 401,
  MERIDIAN_ERR_JOIN_TOKEN_FOREIGN_SITE: 403,
  MERIDIAN_ERR_JOIN_NODE_MISMATCH: 403,
  MERIDIAN_ERR_JOIN_CA_MISMATCH: 502,
  MERIDIAN_ERR_RATE_LIMITED: 429,
  MERIDIAN_ERR_BODY_TOO_LARGE: 413,
  MERIDIAN_ERR_POLICY_INVALID: 400,
  MERIDIAN_ERR_REVOKED: 403,
  MERIDIAN_ERR_POLICY_DENIED: 403,
  MERIDIAN_ERR_POLICY_CONFLICT: 409,
  MERIDIAN_ERR_CONSUL_UNAVAILABLE: 503,
  MERIDIAN_ERR_CONSUL_REFUSED: 502,
};

describe('error catalogue', () => {
  it('is exactly the pinned table of codes and HTTP statuses', () => {
    assert.deepEqual({ ...ERROR_STATUS }, CATALOGUE);
  });

  it('gives every error its code, status, message, details and cause', () => {
    const cause = new Error('EACCES');
    const error = new MeridianError('MERIDIAN_ERR_FILE_IO', 'agent.json: not readable', { cause, details: { field: '/api' } });
    assert.equal(error.code, 'MERIDIAN_ERR_FILE_IO');
    assert.equal(error.statusCode, 500);
    assert.equal(error.cause, cause);
    assert.deepEqual(error.toJSON(), { code: 'MERIDIAN_ERR_FILE_IO', message: 'agent.json: not readable', details: { field: '/api' } });
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_FILE_IO'));
    assert.ok(!isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID'));
    assert.ok(!isMeridianError(cause));
  });

  it('answers HTTP with the code: its own, a framework 4xx as a bad argument, anything else as internal', () => {
    assert.deepEqual(errorResponse(new MeridianError('MERIDIAN_ERR_CONFLICT', 'instanceId a-1: already registered')), {
      status: 409,
      body: { code: 'MERIDIAN_ERR_CONFLICT', message: 'instanceId a-1: already registered' },
    });
    const tooLarge = Object.assign(new Error('Request body is too large'), { statusCode: 413 });
    assert.deepEqual(errorResponse(tooLarge), { status: 413, body: { code: 'MERIDIAN_ERR_BAD_ARGUMENT', message: 'Request body is too large' } });
    assert.equal(errorResponse(new Error('boom')).body.code, 'MERIDIAN_ERR_INTERNAL');
    assert.equal(errorResponse(new Error('boom')).status, 500);
  });
});
