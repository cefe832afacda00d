import type { GrpcTarget } from './probe-grpc-client.js';
import type { Probe } from './types.js';

export type { GrpcTarget };

/**
 * A gRPC health probe whose client library loads on first use: @grpc/grpc-js and the health
 * definitions cost an agent about 20 MB and 0.4 s at start, which only nodes with gRPC checks
 * should pay.
 */
export function grpcProbe(target: GrpcTarget): Probe {
  let loaded: Promise<Probe> | undefined;
  const load = (): Promise<Probe> => (loaded ??= import('./probe-grpc-client.js').then((client) => client.grpcProbe(target)));
  return {
    run: async (signal) => (await load()).run(signal),
    close: () => void loaded?.then((probe) => probe.close()),
  };
}
