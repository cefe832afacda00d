import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MeridianError } from '../../errors/index.js';

/**
 * The Grafana dashboard of the federation, as shipped: the JSON file itself is the source (users
 * and reviewers read and diff it), so it is not compiled; this module runs from
 * dist/shared/telemetry/dashboards/, four folders below the package root that holds
 * shared/telemetry/dashboards/*.json in the repository and in the npm package alike.
 */
export const GRAFANA_DASHBOARD_PATH = fileURLToPath(new URL('../../../../shared/telemetry/dashboards/meridian-federation.json', import.meta.url));

/** The dashboard JSON text, exactly as shipped (import it in Grafana). Throws MERIDIAN_ERR_FILE_IO when the file is missing or not JSON. */
export function grafanaDashboard(path: string = GRAFANA_DASHBOARD_PATH): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `Grafana dashboard ${path}: cannot read it (${(cause as Error).message}); it ships in the package's shared/telemetry/dashboards/`, { cause });
  }
  try {
    JSON.parse(text);
  } catch (cause) {
    throw new MeridianError('MERIDIAN_ERR_FILE_IO', `Grafana dashboard ${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return text;
}
