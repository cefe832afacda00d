import { instanceIdOf, type NodeContext } from '../../shared/catalog/index.js';
import type { Logger } from '../../shared/telemetry/index.js';
import { watchDefinitionsDir, type DefinitionsChange, type DefinitionsWatcher } from './definitions/index.js';
import type { Registrar } from './registrar.js';

/**
 * Keeps the registrar in step with the definitions directory: registers what files define,
 * deregisters what no file defines any more, and leaves everything else running when a file is bad.
 */
export async function followDefinitions(options: { dir: string; registrar: Registrar; node: NodeContext; log: Logger }): Promise<DefinitionsWatcher> {
  const byKey = new Map<string, string>();
  const apply = async (change: DefinitionsChange): Promise<void> => {
    for (const { path, error } of change.errors) options.log.warn('service definition rejected', { path, code: error.code, error: error.message });
    const before = new Set(byKey.values());
    for (const removal of change.removed) byKey.delete(`${removal.path}#${removal.index}`);
    for (const upsert of change.upserted) {
      const id = instanceIdOf(upsert.definition, options.node.node);
      try {
        await options.registrar.register(upsert.definition, { kind: 'file', path: upsert.path });
        byKey.set(`${upsert.path}#${upsert.index}`, id);
      } catch (error) {
        options.log.warn('service definition not registered', { path: upsert.path, error: (error as Error).message });
      }
    }
    const live = new Set(byKey.values());
    for (const id of before) if (!live.has(id)) await options.registrar.deregister(id);
  };
  return watchDefinitionsDir({ dir: options.dir, onChange: apply, onError: (error) => options.log.error('definitions watch failed', { error: String(error) }) });
}
