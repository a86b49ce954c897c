/**
 * Debian's Chromium driven by playwright-core, for the browser tests (test/browser). No
 * browser is downloaded: .ci/run installs the `chromium` package when it is missing.
 */
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';

/** Where Debian puts it; CHROMIUM_PATH points elsewhere (another distribution, a local build). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * Headless, without the sandbox (CI containers run as root, where Chromium refuses it) and
 * without anything that would reach the network or the GPU on its own.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
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
