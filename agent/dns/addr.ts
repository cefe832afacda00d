import { isIPv4, isIPv6 } from 'node:net';

/**
 * SRV targets name an instance's address as one hex label, as Consul's `<hex>.addr.<dc>.consul`
 * does: 127.0.0.1 → `7f000001`, an IPv6 address → its 32 hex digits. A host name has none.
 */
export function addrLabel(address: string): string | undefined {
  if (isIPv4(address)) return address.split('.').map((octet) => Number(octet).toString(16).padStart(2, '0')).join('');
  if (isIPv6(address)) return expandIPv6(address);
  return undefined;
}

/** The address an `addr` label stands for, or undefined when the label is no such encoding. */
export function addrOfLabel(label: string): string | undefined {
  if (/^[0-9a-f]{8}$/.test(label)) {
    return [0, 2, 4, 6].map((i) => String(parseInt(label.slice(i, i + 2), 16))).join('.');
  }
  if (/^[0-9a-f]{32}$/.test(label)) {
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(label.slice(i, i + 4));
    return groups.join(':');
  }
  return undefined;
}

/** The 32 hex digits of an IPv6 address (`::` expanded, embedded IPv4 converted). */
function expandIPv6(address: string): string {
  let text = address.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4 !== undefined) {
    const hex = addrLabel(v4) ?? '00000000';
    text = `${text.slice(0, -v4.length)}${hex.slice(0, 4)}:${hex.slice(4)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const middle = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => group.padStart(4, '0')).join('');
}
