import { request, type ClientRequest, type IncomingMessage } from 'node:http';

/** One server-sent event; `receivedAt` is performance.now() when its last chunk arrived. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  readonly receivedAt: number;
}

/**
 * A minimal server-sent-events reader over one HTTP connection: each complete event goes to
 * `onEvent`, stamped when its bytes arrived (before any parsing of the payload).
 */
export class SseStream {
  readonly #request: ClientRequest;
  #buffer = '';
  #response: IncomingMessage | undefined;

  private constructor(url: string, headers: Readonly<Record<string, string>>, onEvent: (event: SseEvent) => void, onOpen: (error?: Error) => void) {
    this.#request = request(url, { headers: { ...headers, accept: 'text/event-stream' } }, (response) => {
      this.#response = response;
      if (response.statusCode !== 200) {
        onOpen(new Error(`SSE ${url}: HTTP ${response.statusCode}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => this.#feed(chunk, performance.now(), onEvent));
      onOpen();
    });
    this.#request.on('error', (error) => onOpen(error));
    this.#request.end();
  }

  /** Opens the stream (with extra request `headers`, e.g. authorization); resolves once the server answered 200. */
  static open(url: string, onEvent: (event: SseEvent) => void, options: { timeoutMs?: number; headers?: Readonly<Record<string, string>> } = {}): Promise<SseStream> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => finish(new Error(`SSE ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
      const finish = (error?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) {
          resolve(stream);
        } else {
          stream.close();
          reject(error);
        }
      };
      const stream: SseStream = new SseStream(url, options.headers ?? {}, onEvent, finish);
    });
  }

  close(): void {
    this.#response?.destroy();
    this.#request.destroy();
  }

  #feed(chunk: string, receivedAt: number, onEvent: (event: SseEvent) => void): void {
    this.#buffer += chunk;
    for (let end = this.#buffer.indexOf('\n\n'); end >= 0; end = this.#buffer.indexOf('\n\n')) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent({ event, data: data.join('\n'), receivedAt });
    }
  }
}
