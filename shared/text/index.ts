export { renderTable } from './table.js';
export { DNS_LABEL, DNS_LABEL_PATTERN } from './dns-label.js';
