import { jsonLogger, type Logger } from '../../../shared/telemetry/index.js';

/** Log lines a component wrote, kept for assertions instead of going to stderr. */
export interface RecordingLogger extends Logger {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown> = {}): void => void lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A component's JSON logger, silent unless MERIDIAN_TEST_LOGS=1 (then on stderr, for debugging a failure). */
export function quietLogger(component: string): Logger {
  return jsonLogger(component, process.env.MERIDIAN_TEST_LOGS === '1' ? undefined : () => undefined);
}
