import { request } from 'node:http';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** Asserts that a response body matches the served OpenAPI document's schema for `path` (200). */
export type StatusValidator = (path: string, body: unknown) => void;

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Fetches `/openapi.json` and compiles each path's 200 schema, with the document's own components. */
export async function statusValidator(baseUrl: string): Promise<StatusValidator> {
  const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: 'meridian-status' });
  return (path, body) => {
    if (!(path in document.paths)) throw new Error(`the OpenAPI document has no path ${path}`);
    const pointer = `/paths/${path.replace(/~/g, '~0').replace(/\//g, '~1')}/get/responses/200/content/application~1json/schema`;
    const check = ajv.compile({ $ref: `meridian-status#${pointer}` });
    if (!check(body)) throw new Error(`${path} does not match its OpenAPI schema: ${ajv.errorsText(check.errors)}`);
  };
}

/** GET with headers; the body parsed as JSON. */
export async function getJson(url: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: await response.json() };
}

/** One request through an agent's outbound HTTP listener to `<service>.mesh`. */
export function meshGet(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host }, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}
