/**
 * Debian's Chromium driven by playwright-core, for the browser tests (test/browser). No
 * browser is downloaded: `npm test` installs the `chromium` package when it may
 * (scripts/test-env.ts), or skips these tests with SKIP_BROWSER_TESTS=1.
 */
import { accessSync, constants } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { startOffline } from './offline';
import type { OfflineService, StartOptions } from './offline';

/** Where Debian puts it; CHROMIUM_PATH points elsewhere (another distribution, a local build). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Skipping the browser suite is allowed only when asked for explicitly (`npm test` asks when Chromium is missing). */
export const SKIP_BROWSER = process.env.SKIP_BROWSER_TESTS === '1';

/** `describe`, or `describe.skip` under SKIP_BROWSER_TESTS=1: every browser test file's outer blocks. */
export const browserDescribe = SKIP_BROWSER ? describe.skip : describe;

/**
 * Headless, without the sandbox (CI containers run as root, where Chromium refuses it) and
 * without anything that would reach the network or the GPU on its own.
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium was not found at ${CHROMIUM_PATH}: install it (\`apt-get install chromium\`), point CHROMIUM_PATH ` +
        'at one, or set SKIP_BROWSER_TESTS=1 to skip the browser tests.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      ...extraArgs,
    ],
  });
}

export interface ChatPage {
  page: Page;
  /** Uncaught errors of the page's scripts, for failure messages and to assert there are none. */
  errors: string[];
}

/** A new page (its own browser context: cookies and storage apart, like a second person) at `url`. */
export async function openChat(browser: Browser, url: string): Promise<ChatPage> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 640 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  return { page, errors };
}

/** The pages a test file opens: each test closes its own, and fails on any error of their scripts. */
export class ChatPages {
  private readonly pages: ChatPage[] = [];

  async open(browser: Browser, url: string): Promise<ChatPage> {
    const chat = await openChat(browser, url);
    this.pages.push(chat);
    return chat;
  }

  /** Closes every page opened since the last call, and returns their scripts' uncaught errors. */
  async closeAll(): Promise<string[]> {
    const pages = this.pages.splice(0);
    await Promise.all(pages.map((chat) => chat.page.context().close()));
    return pages.flatMap((chat) => chat.errors);
  }
}

/**
 * A browser test file's world: Chromium and the service under serverless-offline, started
 * before its tests and stopped after them; each test's pages closed after it, failing the
 * test on any uncaught error of their scripts. `service` may be replaced (a restart).
 */
export class ChatSession {
  service: OfflineService | undefined;
  browser: Browser | undefined;
  readonly pages = new ChatPages();

  constructor(options: StartOptions = {}) {
    beforeAll(async () => {
      // Both settle before the hook fails: a service still starting when Chromium failed would
      // be out of afterAll's reach, and its process would keep jest from ever ending.
      const [browser, service] = await Promise.allSettled([launchChromium(), startOffline(options)]);
      if (browser.status === 'fulfilled') this.browser = browser.value;
      if (service.status === 'fulfilled') this.service = service.value;
      for (const result of [browser, service]) if (result.status === 'rejected') throw result.reason;
    });
    afterEach(async () => {
      // Each test's people leave before the next test's arrive.
      expect(await this.pages.closeAll()).toEqual([]);
    });
    afterAll(async () => {
      await this.browser?.close();
      await this.service?.stop();
    });
  }

  /** A new page of the running service at `path` (`/`, `/?url=…`). */
  open(path = '/'): Promise<ChatPage> {
    const { service, browser } = this;
    if (!service || !browser) throw new Error('the service or the browser did not start');
    return this.pages.open(browser, `http://localhost:${service.httpPort}${path}`);
  }
}
