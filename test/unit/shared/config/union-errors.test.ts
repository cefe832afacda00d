import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseServiceDefinition } from '../../../../shared/catalog/index.js';
import { isMeridianError } from '../../../../shared/errors/index.js';

/** The violations a bad service definition is refused with. */
function violations(input: unknown): { path: string; message: string }[] {
  try {
    parseServiceDefinition(input, 'services.d/payments.yaml');
  } catch (error) {
    assert.ok(isMeridianError(error, 'MERIDIAN_ERR_CONFIG_INVALID'));
    return (error).details?.['violations'] as { path: string; message: string }[];
  }
  assert.fail('the definition was accepted');
}

describe('config errors inside unions name the field', () => {
  const base = { service: 'payments', ports: { http: 8080 } };

  it('names the tag and the valid values when a check has an unknown type', () => {
    assert.deepEqual(violations({ ...base, check: { type: 'htp', port: 'http' } }), [
      { path: '/check/type', message: 'must be one of "http", "tcp", "grpc", "ttl" (got "htp")' },
    ]);
  });

  it("reports the chosen variant's own violations with their paths", () => {
    const found = violations({ ...base, check: { type: 'http', port: 'http', interval: 'soon', extra: 1 } });
    assert.deepEqual(found.map((v) => v.path).sort(), ['/check/extra', '/check/interval']);
  });

  it('says what a plain union expects', () => {
    assert.deepEqual(violations({ ...base, check: { type: 'tcp', port: 70000 } }), [
      { path: '/check/port', message: 'expected a named port of the service or a port number' },
    ]);
  });

  it('names a missing tag', () => {
    assert.deepEqual(violations({ ...base, check: { port: 'http' } }), [
      { path: '/check/type', message: 'must be one of "http", "tcp", "grpc", "ttl" (got nothing)' },
    ]);
  });
});
