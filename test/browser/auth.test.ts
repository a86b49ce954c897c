/**
 * The chat page with auth on (AUTH_JWT_SECRET, as `AUTH_JWT_SECRET=… npm start`): it waits for
 * a token without a handshake, keeps the token for the tab, asks again after a refused one, and
 * names people by their tokens. The run also takes the chat page's screenshot: into a temporary
 * folder under `npm test`, so that the tracked docs/chat.png only changes when asked for with
 * `npm run page:screenshot` (which sets SCREENSHOT_PATH to it).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { mintToken } from '../../src/auth/token';
import type { RoomRights } from '../../src/auth/rooms';
import { browserDescribe, ChatSession } from '../support/harnesses/browser';
import type { ChatPage } from '../support/harnesses/browser';
import type { Page } from 'playwright-core';
import {
  chatLog,
  join as joinRoom,
  membersOf,
  messageLines,
  say,
  sees,
  statusSays,
  statusState,
} from '../support/harnesses/chat';
import { root } from '../support/harnesses/service';

jest.setTimeout(120_000);

const SECRET = 'browser-secret-that-is-long-enough-for-hs256-0123';
/** The temporary folder of the screenshot, made by the test that writes it (a skipped run makes none). */
let scratch: string | undefined;
const screenshotPath = () =>
  process.env.SCREENSHOT_PATH
    ? resolve(root, process.env.SCREENSHOT_PATH)
    : join((scratch ??= mkdtempSync(join(tmpdir(), 'ws-screenshot-'))), 'chat.png');
afterAll(() => scratch && rmSync(scratch, { recursive: true, force: true }));
/** The tracked screenshot, which a plain test run must leave as it is (git status stays clean). */
const TRACKED = join(root, 'docs', 'chat.png');
const trackedBefore = readFileSync(TRACKED);

const session = new ChatSession({ env: { AUTH_JWT_SECRET: SECRET } });
const open = () => session.open();

const tokenFor = (user: string, rooms?: RoomRights) =>
  mintToken(new TextEncoder().encode(SECRET), { subject: user, ttlSec: 300, rooms });

/** The WebSocket handshakes `page` makes from now on (reload it to count those of its start too). */
function handshakes(page: Page): string[] {
  const urls: string[] = [];
  page.on('websocket', (socket) => urls.push(socket.url()));
  return urls;
}

/** Opens a page and connects it as `user`, with a token typed into its Token field. */
async function signIn(user: string, rooms?: RoomRights): Promise<ChatPage> {
  const chat = await open();
  const token = await tokenFor(user, rooms);
  await chat.page.getByLabel('Token', { exact: true }).fill(token);
  await chat.page.getByRole('button', { name: 'Connect', exact: true }).click();
  await statusSays(chat.page, `Connected to ws://localhost:${session.service?.port}`);
  return chat;
}

browserDescribe('the chat page, with auth on', () => {
  it('waits for a token without any handshake, connects with the one given, and keeps it for the tab only', async () => {
    const { page } = await open();
    const made = handshakes(page);
    await page.reload(); // counted from the start of this load
    await statusState(page, 'waiting');
    await statusSays(page, /^Waiting for a token: paste one and press Connect\. Nothing is sent before\./);
    expect(made).toEqual([]);
    // With auth on the token names you: there is no name to choose.
    expect(await page.getByLabel('Name', { exact: true }).isVisible()).toBe(false);

    await page.getByLabel('Token', { exact: true }).fill(await tokenFor('alice'));
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await statusSays(page, `Connected to ws://localhost:${session.service?.port} as alice`);
    expect(made).toHaveLength(1);

    // A reload connects at once with the token the tab kept...
    await page.reload();
    await statusSays(page, `Connected to ws://localhost:${session.service?.port} as alice`);
    expect(made).toHaveLength(2);
    // ...and another tab (its own session storage) waits for its own.
    const other = await open();
    await statusState(other.page, 'waiting');
    expect(await chatLog(other.page).textContent()).not.toContain('Connected:');
  });

  it('asks for another token after one is refused or expired, instead of sending it again, and connects with the next', async () => {
    const { page } = await open();
    const made = handshakes(page);
    await statusState(page, 'waiting');
    // An expired token is not even sent: its exp is read first.
    const anHourAgo = new Date(Date.now() - 3_600_000);
    const expired = await mintToken(new TextEncoder().encode(SECRET), {
      subject: 'carol',
      ttlSec: 300,
      now: anHourAgo,
    });
    await page.getByLabel('Token', { exact: true }).fill(expired);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await statusSays(page, /^The token has expired: paste a new one and press Connect\./);
    expect(made).toEqual([]);

    await page.getByLabel('Token', { exact: true }).fill('not-a-token');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await statusState(page, 'refused');
    await statusSays(page, /did not accept this token \(or is unreachable\): paste another and press Connect/);
    // Longer than the client's first retry (0.5 s at most): none comes, the page waits for Connect.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(made).toHaveLength(1);
    await statusState(page, 'refused');

    await page.getByLabel('Token', { exact: true }).fill(await tokenFor('carol'));
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await statusSays(page, / as carol$/);
    expect(made).toHaveLength(2);
  });

  it('names its people by their tokens, with the times of their messages (the README screenshot, docs/chat.png)', async () => {
    const alice = await signIn('alice');
    const bob = await signIn('bob');
    await joinRoom(bob.page, 'lobby');
    await say(bob.page, 'hi alice, anyone else around?'); // before alice is in the room
    await sees(bob.page, 'Delivered in lobby: 1 of 1 sent');
    await joinRoom(alice.page, 'lobby');
    // From the room's backlog: bob's arrival and his message, with its time.
    await sees(alice.page, 'bob in lobby: hi alice, anyone else around?');
    const [line] = await messageLines(alice.page, 'bob in lobby: hi alice');
    expect(Number.isFinite(line?.at)).toBe(true);
    await membersOf(alice.page, 'lobby').nth(1).waitFor();
    expect((await membersOf(alice.page, 'lobby').allTextContents()).sort()).toEqual(['alice (you)', 'bob']);
    await statusSays(alice.page, / as alice$/);

    await say(alice.page, 'just us in the lobby');
    await sees(bob.page, 'alice in lobby: just us in the lobby');

    // A direct message: typing a user chooses them as the target.
    await alice.page.getByLabel('User', { exact: true }).fill('bob');
    await say(alice.page, 'psst, bob');
    await sees(bob.page, 'alice to user bob: psst, bob');
    await sees(alice.page, 'You to user bob: psst, bob');
    await sees(alice.page, 'Delivered to user bob: 1 of 1 sent (0 stale, 0 failed, 0 unsent)');

    const screenshot = screenshotPath();
    mkdirSync(dirname(screenshot), { recursive: true });
    await alice.page.screenshot({ path: screenshot });
    // A PNG's signature: the page was drawn and written where it was asked to be.
    expect(readFileSync(screenshot).subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    if (screenshot !== TRACKED) expect(readFileSync(TRACKED).equals(trackedBefore)).toBe(true);
  });

  it('shows a refusal as a readable line, and writes no "You to user" for a direct message that was refused', async () => {
    const eve = await signIn('eve', { lobby: ['join', 'publish', 'presence'] });
    await eve.page.getByLabel('Room', { exact: true }).fill('secret-room');
    await eve.page.getByRole('button', { name: 'Join', exact: true }).click();
    await sees(eve.page, 'Refused: your token does not let you join secret-room');

    const tooLong = 'x'.repeat(256); // a user name the protocol refuses
    await eve.page.getByLabel('User', { exact: true }).fill(tooLong);
    await say(eve.page, 'never sent');
    await sees(eve.page, /^Error invalid_message: /);
    expect(await chatLog(eve.page).textContent()).not.toContain('You to user');
  });
});
