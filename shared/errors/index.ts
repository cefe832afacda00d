export { MeridianError, ERROR_STATUS, isMeridianError } from './meridian-error.js';
export type { ErrorCode, MeridianErrorOptions } from './meridian-error.js';
export { errorResponse } from './http.js';
export { listenFailure, type ListenTarget } from './listen.js';
