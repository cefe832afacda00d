import { MeridianError } from '../shared/errors/index.js';
import { grafanaDashboard } from '../shared/telemetry/dashboards/index.js';
import type { Command } from './index.js';

const grafana: Command = {
  group: 'dashboard',
  name: 'grafana',
  summary: "print the Grafana dashboard (JSON) of the federation's Prometheus metrics, to import in Grafana",
  usage: 'meridian dashboard grafana > meridian-federation.json',
  options: {},
  run(args, io) {
    if (args.positionals.length > 0) {
      throw new MeridianError('MERIDIAN_ERR_BAD_ARGUMENT', `unexpected argument ${JSON.stringify(args.positionals[0])}\nusage: ${grafana.usage}`);
    }
    // io.out ends the line: the file written by `> file` is the shipped JSON byte for byte.
    io.out(grafanaDashboard().replace(/\n$/, ''));
    return 0;
  },
};

/** `meridian dashboard grafana`. */
export const dashboardCommands: readonly Command[] = [grafana];
