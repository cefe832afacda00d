import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter } from '../../../../agent/consul/filter.js';

const ROW = { Node: { Node: 'west-1', Meta: { rack: 'r1' } }, Service: { ID: 'pay-1', Port: 9101, Tags: ['v2', 'canary'], Meta: { team: 'pay' } }, Checks: [] };
const FIELDS = ['Node', 'Service', 'Checks'];

function matches(expression: string): boolean {
  const filter = compileFilter(expression, FIELDS);
  assert.ok(filter !== undefined);
  return filter(ROW);
}

describe('Consul filter subset', () => {
  it('evaluates ==, !=, contains, in, not in, is empty and and', () => {
    assert.equal(matches('Service.Meta.team == "pay"'), true);
    assert.equal(matches('Service.Meta.team == pay and Node.Node != west-2'), true);
    assert.equal(matches('Service.Port == 9101'), true);
    assert.equal(matches('Service.Tags contains canary'), true);
    assert.equal(matches('"v3" in Service.Tags'), false);
    assert.equal(matches('"v3" not in Service.Tags'), true);
    assert.equal(matches('rack in Node.Meta'), true);
    assert.equal(matches('Checks is empty and Service.Tags is not empty'), true);
    assert.equal(matches('Service.Meta.missing == x'), false);
    assert.equal(matches('Service.ID == "and"'), false);
  });

  it('returns undefined for an absent or blank filter', () => {
    assert.equal(compileFilter(undefined, FIELDS), undefined);
    assert.equal(compileFilter('  ', FIELDS), undefined);
  });

  it('refuses what it does not serve, naming it', () => {
    const refusals: [string, RegExp][] = [
      ['Service.ID == a or Service.ID == b', /^filter: "or" is not supported/],
      ['not Service.ID == a', /^filter: "not" is not supported/],
      ['Service.ID matches "p.*"', /^filter: "Service.ID matches \\"p.\*\\"" is not a supported clause/],
      ['Service.ID ==', /^filter: "Service.ID ==" is not a supported clause/],
      ['Service.ID == a AND Node.Node == b', /^filter: "AND" must be written "and"/],
      ['Nope.ID == a', /^filter: selector Nope.ID: no field Nope here \(fields: Node, Service, Checks\)/],
      [Array.from({ length: 17 }, () => 'Service.ID == a').join(' and '), /^filter: more than 16 clauses/],
    ];
    for (const [expression, message] of refusals) {
      assert.throws(() => compileFilter(expression, FIELDS), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'MERIDIAN_ERR_BAD_ARGUMENT');
        assert.match(error.message, message);
        return true;
      }, expression);
    }
  });
});
