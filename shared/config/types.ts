/** One schema violation, with a JSON-pointer path to the offending field. */
export interface ConfigViolation {
  path: string;
  message: string;
}
