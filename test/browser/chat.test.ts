/**
 * The chat page of `npm start` (web/) in a real browser (Debian's Chromium, driven by
 * playwright-core) against the real service under serverless-offline, without auth.
 */
import { browserDescribe, ChatSession } from '../support/harnesses/browser';
import type { ChatPage } from '../support/harnesses/browser';
import {
  chatLog,
  chatStatus,
  join,
  membersOf,
  messageLines,
  say,
  sees,
  statusSays,
  statusState,
} from '../support/harnesses/chat';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { startOffline } from '../support/harnesses/offline';
import { TestClient } from '../support/harnesses/client';

jest.setTimeout(120_000);

const session = new ChatSession();

/** A page of the service, connected to it: to the URL of `?url=` when given, else to the one beside it. */
async function open(url?: string): Promise<ChatPage> {
  const query = url === undefined ? '' : `?url=${encodeURIComponent(url)}`;
  const chat = await session.open(`/${query}`);
  await statusSays(chat.page, `Connected to ${url ?? `ws://localhost:${session.service?.port}`}`);
  return chat;
}

browserDescribe('the chat page, without auth', () => {
  it('lets two pages chat, one of them told the URL by ?url=, and shows the sender its delivery summary', async () => {
    // 127.0.0.1, not the localhost the page would derive: only ?url= can have chosen it.
    const [a, b] = [await open(), await open(`ws://127.0.0.1:${session.service?.port}`)];
    expect(await a.page.getByLabel('Token', { exact: true }).isVisible()).toBe(false);

    await say(a.page, 'hello from A');
    await sees(b.page, /: hello from A$/);
    await sees(a.page, /Delivered to everyone: \d+ of \d+ sent/);

    await say(b.page, 'hello from B');
    await sees(a.page, /: hello from B$/);
  });

  it('sends a room message to the room members only, and shows who is in the room', async () => {
    const [a, b, outsider] = [await open(), await open(), await open()];
    await join(a.page, 'lobby');
    await join(b.page, 'lobby');
    await sees(a.page, / joined lobby$/); // B's arrival, as a presence event
    await membersOf(a.page, 'lobby').nth(1).waitFor();
    expect(await membersOf(a.page, 'lobby').count()).toBe(2);

    await say(a.page, 'only for the lobby'); // joining chose the room as the target
    await sees(b.page, / in lobby: only for the lobby$/);
    await sees(a.page, 'Delivered in lobby: 2 of 2 sent');

    await a.page.getByLabel('To', { exact: true }).selectOption('everyone');
    await say(a.page, 'for everyone');
    await sees(outsider.page, / to everyone: for everyone$/);
    expect(await chatLog(outsider.page).textContent()).not.toContain('only for the lobby');

    await b.page.getByRole('button', { name: 'Leave', exact: true }).click();
    await sees(b.page, 'You left lobby');
    await sees(a.page, / left lobby$/);
    await membersOf(a.page, 'lobby').nth(1).waitFor({ state: 'detached' });
  });

  it('shows what was sent to its room while its connection was cut, once each, after it reconnects', async () => {
    const [a] = [await open()];
    await join(a.page, 'resume');
    const { service } = session;
    if (!service) throw new Error('the service did not start');
    const sender = await TestClient.connect(service.url);
    try {
      await sender.request({ action: 'join', room: 'resume' }, 'joined');
      const me = (await sender.request({ action: 'list' }, 'connections')).you as string;
      const members = await sender.request({ action: 'members', room: 'resume' }, 'members');
      const page = (members.members as { connectionId: string }[]).find((m) => m.connectionId !== me);
      if (!page) throw new Error('the page is not in the room');
      // The service ends the page's connection (as API Gateway does after 2 hours); the room goes on.
      const cut = await fetch(
        `http://localhost:${service.port}/@connections/${encodeURIComponent(page.connectionId)}`,
        {
          method: 'DELETE',
        },
      );
      expect(cut.status).toBe(204);
      for (let n = 1; n <= 3; n++) sender.send({ action: 'publish', room: 'resume', data: `meanwhile ${n}` });
      for (let n = 1; n <= 3; n++) await sees(a.page, new RegExp(` in resume: meanwhile ${n}$`), 30_000);
      await statusSays(a.page, /Connected to/);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const log = (await chatLog(a.page).textContent()) ?? '';
      for (let n = 1; n <= 3; n++) expect(log.split(`meanwhile ${n}`)).toHaveLength(2); // once each
    } finally {
      await sender.close();
    }
  });

  it('refuses a message too large for one frame visibly, before sending it, and keeps its connection', async () => {
    const [a, b] = [await open(), await open()];
    // A browser sends a message as one frame; API Gateway (and npm start) close a connection
    // that sends a frame over 32 KB with 1009. The page's client refuses it instead.
    const big = 'x'.repeat(40_000);
    await say(a.page, big);
    await sees(
      a.page,
      /^Not sent: the message is \d+ bytes, and this WebSocket sends a message as one frame \(a browser's cannot split one\)/,
    );
    expect(await a.page.getByLabel('Message', { exact: true }).inputValue()).toBe(big); // kept, to shorten
    await statusSays(a.page, `Connected to ws://localhost:${session.service?.port}`);

    await say(a.page, 'a short one after it');
    await sees(b.page, /: a short one after it$/);
    expect(await chatLog(b.page).textContent()).not.toContain('xxxxxxxxxx');
    // Never disconnected: the page says "Connected: n connections open" at every (re)connect.
    expect(await chatStatus(a.page).textContent()).toMatch(/^Connected to/);
    expect((await chatLog(a.page).textContent())?.match(/Connected: \d+ connections? open/g)).toHaveLength(1);
    expect(session.service?.output()).not.toContain('"limit":"frame"');
  });

  it("shows a room's last messages, with their times and chosen names, on join and after a reload, once each and in order", async () => {
    const { service } = session;
    if (!service) throw new Error('the service did not start');
    const sender = await TestClient.connect(service.url);
    try {
      await sender.request({ action: 'join', room: 'backlog' }, 'joined');
      const before = Date.now();
      for (let n = 1; n <= 3; n++) {
        const data = { text: `earlier ${n}`, name: 'carol' }; // what a page with the name carol sends
        await sender.request({ action: 'publish', room: 'backlog', data }, 'delivery');
      }
      const after = Date.now();
      const earlier = [1, 2, 3].map((n) => `carol in backlog: earlier ${n}`);

      const { page } = await open();
      await page.getByLabel('Name', { exact: true }).fill('dave');
      await join(page, 'backlog');
      await sees(page, 'carol in backlog: earlier 3');
      const shown = await messageLines(page, 'in backlog: earlier');
      expect(shown.map((line) => line.text)).toEqual(earlier);
      // Each line's time is its message's sentAt, which the service set while it was published.
      for (const { at } of shown) expect(before <= at && at <= after).toBe(true);
      expect(await membersOf(page, 'backlog').allTextContents()).toContain('carol');

      await say(page, 'hello from dave');
      const heard = await sender.next((m) => m.type === 'message' && JSON.stringify(m.data).includes('from dave'));
      expect([heard.from, heard.data]).toEqual([null, { text: 'hello from dave', name: 'dave' }]);
      await sees(page, 'dave (you) in backlog: hello from dave');
      await statusSays(page, / as dave$/);

      // The tab keeps its rooms and the browser its name: the reload joins again, with the backlog.
      await page.reload();
      await statusSays(page, / as dave$/);
      await sees(page, 'dave in backlog: hello from dave');
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('dave');
      const again = await messageLines(page, 'in backlog:');
      expect(again.map((line) => line.text)).toEqual([...earlier, 'dave in backlog: hello from dave']);
    } finally {
      await sender.close();
    }
  });

  it('says when the browser is offline, refuses what is sent meanwhile visibly and keeps its text, and sends again once back', async () => {
    const [a, b] = [await open(), await open()];
    await a.page.context().setOffline(true);
    await statusState(a.page, 'offline');
    await statusSays(a.page, /^Offline: the browser has no network\. Messages you send now are refused/);
    await say(a.page, 'while offline');
    await sees(a.page, /^Not sent: the browser is offline/);
    expect(await a.page.getByLabel('Message', { exact: true }).inputValue()).toBe('while offline'); // kept

    await a.page.context().setOffline(false);
    await statusState(a.page, 'open');
    await a.page.getByRole('button', { name: 'Send', exact: true }).click();
    await sees(b.page, / to everyone: while offline$/);
    expect(await chatLog(b.page).getByText('while offline').count()).toBe(1);
  });

  it('says it is connecting while a handshake is unanswered, and queues what is sent meanwhile', async () => {
    // A server that accepts the TCP connection and never answers the handshake.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    try {
      const url = `ws://127.0.0.1:${address.port}`;
      const { page } = await session.open(`/?url=${encodeURIComponent(url)}`);
      await statusState(page, 'connecting');
      await statusSays(page, `Connecting to ${url}… Messages you send now are queued, at most 10`);
      await say(page, 'before the handshake');
      await sees(page, 'Queued (sent once connected): before the handshake');
      await statusSays(page, 'queued (1 waiting)');
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reconnects by itself after the WebSocket server restarts, rejoins its room and gets messages again', async () => {
    const [a, b] = [await open(), await open()];
    await join(a.page, 'lobby');
    await join(b.page, 'lobby');

    const { service } = session;
    if (!service) throw new Error('the service did not start');
    const ports = service.ports;
    await service.stop();
    await statusState(a.page, 'reconnecting');
    await statusSays(a.page, /^Reconnecting in \d+\.\d s \(attempt \d+\)…/);
    // Queued while it reconnects, up to the page's limit of 10; the 11th is refused and kept.
    for (let n = 1; n <= 10; n++) {
      await say(a.page, `while down ${n}`);
      await sees(a.page, `Queued (sent once connected): while down ${n}`);
    }
    await statusSays(a.page, 'queued (10 waiting), at most 10');
    await say(a.page, 'one too many');
    await sees(a.page, /^Not sent: the client already holds 10 publishes it cannot send yet/);
    expect(await a.page.getByLabel('Message', { exact: true }).inputValue()).toBe('one too many');
    session.service = await startOffline({ ports });

    await statusSays(a.page, `Connected to ws://localhost:${ports.ws}`, 60_000);
    await statusSays(b.page, `Connected to ws://localhost:${ports.ws}`, 60_000);
    // Neither page was reloaded: the client rejoined the room on its new connection.
    for (const { page } of [a, b]) await chatLog(page).getByText('You joined lobby').nth(1).waitFor();
    // The new store numbers the room from 1 again: the page that rejoined first (its `joined`
    // below its own number) says so in a line.
    const restarted = /count of lobby started again/;
    await Promise.any([a, b].map(({ page }) => chatLog(page).getByText(restarted).waitFor({ timeout: 10_000 })));
    // The queue went in the order it was written, once each, after the room was joined again.
    await sees(a.page, /\(you\) in lobby: while down 10$/);
    const echoes = await messageLines(a.page, '(you) in lobby: while down');
    expect(echoes.map((line) => line.text.replace(/^.* in lobby: /, ''))).toEqual(
      Array.from({ length: 10 }, (_, i) => `while down ${i + 1}`),
    );
    expect(await chatLog(a.page).getByText('Sent after connecting: while down').count()).toBe(10);
    expect(await chatLog(a.page).textContent()).not.toContain('in lobby: one too many');
    await say(b.page, 'back again');
    await sees(a.page, / in lobby: back again$/);
  });
});
