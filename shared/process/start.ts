import { listenFailure, type ListenTarget } from '../errors/index.js';

/** What a start records as it goes: how to undo each thing it started (run last first). */
export type UndoSteps = (() => Promise<void> | void)[];

/**
 * Runs a role's `launch`, which pushes an undo step for everything it starts. When the start
 * fails, every step runs (last first, their own failures ignored), so nothing is left running,
 * and a failed listen becomes an error naming its config field (MERIDIAN_ERR_PORT_IN_USE, …).
 */
export async function startOrUndo<T>(launch: (undo: UndoSteps) => Promise<T>, listeners: readonly ListenTarget[]): Promise<T> {
  const undo: UndoSteps = [];
  try {
    return await launch(undo);
  } catch (error) {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined);
    throw listenFailure(error, listeners) ?? error;
  }
}
