/**
 * The chat page (web/) as its users see it: by its labels and roles, the way the browser
 * tests (test/browser) drive it. No selector depends on the page's ids or classes.
 */
import type { Locator, Page } from 'playwright-core';

/** Long enough for a message through offline's worker threads on a busy 2-core machine. */
const SEEN_WITHIN_MS = 20_000;

export const chatLog = (page: Page): Locator => page.getByRole('log');
export const chatStatus = (page: Page): Locator => page.getByRole('status');

/** Resolves once a line of the conversation contains `text` (fails after SEEN_WITHIN_MS). */
export async function sees(page: Page, text: string | RegExp, timeout = SEEN_WITHIN_MS): Promise<void> {
  await chatLog(page).getByText(text).first().waitFor({ timeout });
}

/** Resolves once the connection status says `text`. */
export async function statusSays(page: Page, text: string | RegExp, timeout = SEEN_WITHIN_MS): Promise<void> {
  await page.getByRole('status').filter({ hasText: text }).waitFor({ timeout });
}

export async function say(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

export async function join(page: Page, room: string): Promise<void> {
  await page.getByLabel('Room', { exact: true }).fill(room);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await sees(page, `You joined ${room}`);
}

/** The names in a joined room's member list, as the page shows them. */
export function membersOf(page: Page, room: string): Locator {
  return page.getByRole('list', { name: `Members of ${room}` }).getByRole('listitem');
}

/** The conversation's message lines (those with a time) whose text contains `part`, in the order shown: the instant and the text after the time. */
export async function messageLines(page: Page, part: string): Promise<{ at: number; text: string }[]> {
  const lines = await chatLog(page)
    .locator('p:has(time)')
    .evaluateAll((paragraphs) =>
      paragraphs.map((paragraph) => {
        const time = paragraph.querySelector('time');
        const label = time?.textContent ?? '';
        return { at: Date.parse(time?.dateTime ?? ''), text: (paragraph.textContent ?? '').slice(label.length + 1) };
      }),
    );
  return lines.filter((line) => line.text.includes(part));
}

/** The status line's state (its `data-state`: waiting, connecting, open, reconnecting, offline, refused, closed). */
export async function statusState(page: Page, state: string, timeout = SEEN_WITHIN_MS): Promise<void> {
  await page.locator(`[role="status"][data-state="${state}"]`).waitFor({ timeout });
}
