/**
 * One lower-case DNS label (RFC 1123): the shape of every site, node, service and gateway name. It
 * keeps names unambiguous wherever they are joined: SPIFFE IDs, `<service>.mesh` authorities,
 * `<service>.<site>.mesh` CONNECT targets and TLS server names.
 */
export const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

/** Matches exactly one {@link DNS_LABEL}. */
export const DNS_LABEL_PATTERN = new RegExp(`^${DNS_LABEL}$`);
