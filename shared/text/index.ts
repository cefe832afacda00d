export { renderTable } from './table.js';
