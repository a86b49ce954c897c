/**
 * The chat page of `npm start` (web/) in a real browser (Debian's Chromium, driven by
 * playwright-core) against the real service under serverless-offline, without auth.
 */
import { browserDescribe, ChatSession } from '../support/harnesses/browser';
import type { ChatPage } from '../support/harnesses/browser';
import { chatLog, chatStatus, join, membersOf, say, sees, statusSays } from '../support/harnesses/chat';
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

  it('reconnects by itself after the WebSocket server restarts, rejoins its room and gets messages again', async () => {
    const [a, b] = [await open(), await open()];
    await join(a.page, 'lobby');
    await join(b.page, 'lobby');

    const { service } = session;
    if (!service) throw new Error('the service did not start');
    const ports = service.ports;
    await service.stop();
    await statusSays(a.page, /Reconnecting in|Could not connect|Disconnected/);
    session.service = await startOffline({ ports });

    await statusSays(a.page, `Connected to ws://localhost:${ports.ws}`, 60_000);
    await statusSays(b.page, `Connected to ws://localhost:${ports.ws}`, 60_000);
    // Neither page was reloaded: the client rejoined the room on its new connection.
    for (const { page } of [a, b]) await chatLog(page).getByText('You joined lobby').nth(1).waitFor();
    // The new store numbers the room from 1 again: the page that rejoined first (its `joined`
    // below its own number) says so in a line.
    const restarted = /count of lobby started again/;
    await Promise.any([a, b].map(({ page }) => chatLog(page).getByText(restarted).waitFor({ timeout: 10_000 })));
    await say(b.page, 'back again');
    await sees(a.page, / in lobby: back again$/);
  });
});
