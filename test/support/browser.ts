/**
 * Headless Chromium for browser tests, driven by playwright-core against Debian's `chromium`
 * package (playwright's own browser downloads are neither wanted nor reachable here).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium package installs its launcher here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/*
 * Headless, no sandbox (tests run as root in containers, where the sandbox cannot start), and
 * none of the background traffic (updates, sync, QUIC probes) a fresh profile would otherwise
 * start: a test must only talk to the servers it started.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const LAUNCH_TIMEOUT_MS = 30_000;
const CLOSE_TIMEOUT_MS = 10_000;

/** A running headless Chromium. */
export interface BrowserHandle {
  readonly browser: Browser;
  /** A page in a fresh context (its own cookies and storage), sized like a laptop screen. */
  newPage(): Promise<Page>;
  /** Closes every page and stops Chromium; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Starts headless Chromium. playwright-core gives it a fresh temporary profile and removes it on
 * close. Throws naming the Debian package when the binary is missing, so the fix is obvious.
 */
export async function launchBrowser(): Promise<BrowserHandle> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install Debian's chromium package (apt-get update && apt-get install -y chromium)`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: LAUNCH_TIMEOUT_MS });
  let closing: Promise<void> | undefined;
  return {
    browser,
    newPage: async () => (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage(),
    close: () => (closing ??= closeBounded(browser)),
  };
}

/** browser.close() asks Chromium to quit and kills its process group if it does not; bound the wait anyway. */
async function closeBounded(browser: Browser): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`chromium did not close within ${CLOSE_TIMEOUT_MS} ms`)), CLOSE_TIMEOUT_MS);
  });
  try {
    await Promise.race([browser.close(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
