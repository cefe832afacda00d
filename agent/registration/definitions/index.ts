export { watchDefinitionsDir, DEFAULT_DEBOUNCE_MS } from './dir.js';
export { loadDefinitionFile, definitionsFormat, MAX_DEFINITIONS_FILE_BYTES } from './file.js';
export { parseDefinitionsText } from './parse.js';
export { retiredInstanceIds } from './state.js';
export type { DefinitionsFileResult, DefinitionsFormat, ParsedDefinition } from './parse.js';
export type {
  DefinitionEntry,
  DefinitionKey,
  DefinitionRemoval,
  DefinitionsChange,
  DefinitionsFileError,
  DefinitionsSnapshot,
  DefinitionsWatcher,
  DefinitionsWatcherOptions,
  DefinitionUpsert,
} from './types.js';
