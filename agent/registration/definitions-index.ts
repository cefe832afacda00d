export { watchDefinitionsDir, DEFAULT_DEBOUNCE_MS } from './definitions-dir.js';
export { loadDefinitionFile, definitionsFormat, MAX_DEFINITIONS_FILE_BYTES } from './definitions-file.js';
export { parseDefinitionsText } from './definitions-parse.js';
export { retiredInstanceIds } from './definitions-state.js';
export type { DefinitionsFileResult, DefinitionsFormat, ParsedDefinition } from './definitions-parse.js';
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
} from './definitions-types.js';
