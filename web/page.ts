/**
 * The chat page's script (bundled to /page.js by scripts/page/build.ts; it loads the typed
 * client from /client.js). It talks to the service it was served with (config.json, written
 * by `npm start`), or to the one named by `?url=wss://…` (a deployed stage).
 *
 * The token field is shown when the local service requires a token (config.json's `auth`),
 * or after a handshake failed before the socket opened: a browser is never told the HTTP
 * status of a refused WebSocket handshake (401/403), so a refusal and an unreachable service
 * look the same from here, and both are said plainly.
 */
import { ClientSocketError, describeError, RealtimeClient } from '../client';
import type { FrameOf, ServerMessage } from '../client';
import { Roster } from './roster';

/** What `npm start` tells the page about the service beside it (scripts/page/build.ts writes it). */
interface PageConfig {
  wsPort: number;
  auth: 'off' | 'hs256' | 'jwks';
}

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

const statusLine = element('status', HTMLParagraphElement);
const log = element('log', HTMLDivElement);
const sendForm = element('send-form', HTMLFormElement);
const target = element('target', HTMLSelectElement);
const messageInput = element('message', HTMLInputElement);
const tokenForm = element('token-form', HTMLFormElement);
const tokenInput = element('token', HTMLInputElement);
const roomForm = element('room-form', HTMLFormElement);
const roomInput = element('room', HTMLInputElement);
const leaveButton = element('leave', HTMLButtonElement);
const userInput = element('user', HTMLInputElement);
const membersPanel = element('members', HTMLDivElement);

/** Reconnects after a restart of `npm start` (about 12 s) within a few seconds of it listening. */
const RECONNECT = { initialDelayMs: 500, maxDelayMs: 5_000, maxAttempts: Infinity };

let client: RealtimeClient | undefined;
/** This connection's id (from the `list` it sends at every open), to mark its own messages. */
let myConnectionId: string | undefined;
/** Members of each joined room (the name shown: the token's subject, or a short id). */
const members = new Roster();

function setStatus(text: string, state: string): void {
  statusLine.textContent = text;
  statusLine.dataset.state = state;
}

function append(text: string, kind: 'message' | 'info' | 'delivery' | 'error'): void {
  const line = document.createElement('p');
  line.className = kind;
  line.textContent = text;
  log.append(line);
  log.scrollTop = log.scrollHeight;
}

function nameOf(from: string | null | undefined, connectionId: string | undefined): string {
  const name = from ?? (connectionId === undefined ? 'server' : `#${connectionId.slice(0, 8)}`);
  return connectionId !== undefined && connectionId === myConnectionId ? `${name} (you)` : name;
}

function textOf(data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function whereOf(frame: { room?: string; user?: string; to?: string }): string {
  if (frame.room !== undefined) return ` in ${frame.room}`;
  if (frame.user !== undefined) return ` to user ${frame.user}`;
  if (frame.to !== undefined) return ' (direct)';
  return ' to everyone';
}

function describeDelivery(d: FrameOf<'delivery'>): string {
  const problems = [`${d.stale} stale`, `${d.failed} failed`, `${d.unsent} unsent`];
  return `Delivered${whereOf(d)}: ${d.sent} of ${d.recipients} sent (${problems.join(', ')})`;
}

function renderMembers(): void {
  membersPanel.replaceChildren();
  if (members.size === 0) {
    const help = document.createElement('p');
    help.className = 'help';
    help.textContent = 'Join a room to see who is in it.';
    membersPanel.append(help);
    return;
  }
  for (const [room, people] of members.list()) {
    const heading = document.createElement('h3');
    heading.textContent = `${room} (${people.size})`;
    const list = document.createElement('ul');
    list.setAttribute('aria-label', `Members of ${room}`);
    for (const [connectionId, from] of people) {
      const item = document.createElement('li');
      item.textContent = nameOf(from, connectionId);
      list.append(item);
    }
    membersPanel.append(heading, list);
  }
}

/** The "To" choices: everyone, each joined room, and the user typed in "User". */
function renderTargets(select?: string): void {
  const chosen = select ?? target.value;
  const options: [string, string][] = [['everyone', 'everyone']];
  for (const [room] of members.list()) options.push([`room:${room}`, `room ${room}`]);
  const user = userInput.value.trim();
  if (user !== '') options.push(['user', `user ${user}`]);
  target.replaceChildren(
    ...options.map(([value, label]) => {
      const option = document.createElement('option');
      option.value = value;
      option.textContent = label;
      return option;
    }),
  );
  target.value = options.some(([value]) => value === chosen) ? chosen : 'everyone';
}

/**
 * Direct messages sent and not yet answered, oldest first. The service does not echo a
 * direct message to its sender, so the page writes "You to user …" when the delivery
 * summary comes, never for a send that was refused.
 */
const pendingDirect: { user: string; text: string }[] = [];

function onMessage(frame: ServerMessage): void {
  switch (frame.type) {
    case 'message':
      append(`${nameOf(frame.from, frame.connectionId)}${whereOf(frame)}: ${textOf(frame.data)}`, 'message');
      break;
    case 'delivery': {
      const sent = frame.user === undefined ? -1 : pendingDirect.findIndex((p) => p.user === frame.user);
      if (sent !== -1) {
        const [direct] = pendingDirect.splice(sent, 1);
        if (direct) append(`You to user ${direct.user}: ${direct.text}`, 'message');
      }
      append(describeDelivery(frame), 'delivery');
      break;
    }
    case 'joined':
      members.asked(frame.room);
      append(`You joined ${frame.room}`, 'info');
      client?.members(frame.room);
      renderMembers();
      renderTargets(`room:${frame.room}`);
      break;
    case 'left':
      members.left(frame.room);
      append(frame.wasMember ? `You left ${frame.room}` : `You were not in ${frame.room}`, 'info');
      renderMembers();
      renderTargets();
      break;
    case 'members':
      members.answered(frame.room, frame.members);
      renderMembers();
      break;
    case 'presence': {
      const who = nameOf(frame.from, frame.connectionId);
      members.changed(frame.room, frame);
      if (frame.event === 'join') {
        append(`${who} joined ${frame.room}`, 'info');
      } else {
        append(`${who} ${frame.reason === 'disconnect' ? 'dropped out of' : 'left'} ${frame.room}`, 'info');
      }
      renderMembers();
      break;
    }
    case 'connections':
      myConnectionId = frame.you;
      append(`Connected: ${frame.count} connection${frame.count === 1 ? '' : 's'} open`, 'info');
      renderMembers();
      break;
    case 'error':
      // Errors name no request: a refusal while a direct message waits is taken to be its own.
      if (pendingDirect.length > 0) pendingDirect.shift();
      append(describeError(frame), 'error');
      break;
    case 'pong':
    case 'history': // the client's own: its messages come one by one, in order, as 'message'
      break;
  }
}

function showTokenField(): void {
  tokenForm.hidden = false;
}

function connect(url: string): void {
  const previous = client;
  client = undefined; // its close below is not this page's news
  previous?.close();
  const next = new RealtimeClient({
    url,
    // Read before every (re)connect, so a token pasted (or refreshed) later is the one sent;
    // an empty field connects without one.
    token: () => tokenInput.value.trim(),
    reconnect: RECONNECT,
  });
  client = next;
  members.clear();
  renderMembers();
  renderTargets();
  next.on('open', () => {
    setStatus(`Connected to ${url}`, 'open');
    next.list();
  });
  next.on('close', (event) => {
    if (client !== next) return;
    if (!event.wasOpen) {
      showTokenField();
      setStatus(
        `Could not connect to ${url}: the service refused the connection or is unreachable. ` +
          'If it requires a token, enter one and press Connect.',
        'refused',
      );
    } else {
      setStatus(`Disconnected (code ${event.code}${event.reason ? `: ${event.reason}` : ''})`, 'closed');
    }
    if (!event.willReconnect) setStatus(`${statusLine.textContent ?? ''}; not reconnecting`, 'closed');
  });
  next.on('reconnecting', (event) => {
    if (client !== next) return;
    const wasRefused = statusLine.dataset.state === 'refused';
    const prefix = wasRefused ? `${statusLine.textContent ?? ''} ` : '';
    setStatus(
      `${prefix}Reconnecting in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})…`,
      wasRefused ? 'refused' : 'reconnecting',
    );
  });
  next.on('message', onMessage);
  next.on('gap', (gap) => {
    if (client !== next) return;
    const lost = gap.before - gap.after - 1;
    append(`${lost} message${lost === 1 ? '' : 's'} in ${gap.room} could not be recovered`, 'error');
  });
  next.on('reset', (reset) => {
    if (client !== next) return;
    append(`The service's count of ${reset.room} started again (its store was replaced); its messages go on`, 'error');
  });
  next.on('error', (error) => {
    // A socket error is always followed by its close, which the status line reports.
    if (!(error instanceof ClientSocketError)) append(`Error: ${error.message}`, 'error');
  });
  // Rooms joined on the previous connection stay joined on the new one.
  for (const room of previous?.rooms ?? []) next.join(room);
  setStatus(`Connecting to ${url}…`, 'connecting');
  next.connect();
}

/** Runs a client call, and says so plainly when the client refuses it (closed, or its queue is full). */
function attempt(action: () => void): void {
  try {
    action();
  } catch (error) {
    append(`Not sent: ${error instanceof Error ? error.message : String(error)}`, 'error');
  }
}

async function loadConfig(): Promise<PageConfig | undefined> {
  try {
    const response = await fetch('config.json', { cache: 'no-store' });
    return response.ok ? ((await response.json()) as PageConfig) : undefined;
  } catch {
    return undefined; // opened from elsewhere (a file, another server): ?url= is then needed
  }
}

async function main(): Promise<void> {
  const explicit = new URLSearchParams(location.search).get('url');
  const config = explicit === null ? await loadConfig() : undefined;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = explicit ?? (config ? `${scheme}://${location.hostname}:${config.wsPort}` : undefined);
  if (url === undefined) {
    setStatus('No service to talk to: open this page from `npm start`, or add ?url=wss://…', 'closed');
    return;
  }
  if (config && config.auth !== 'off') showTokenField();

  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    connect(url);
  });
  sendForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = messageInput.value;
    const choice = target.value;
    attempt(() => {
      if (choice === 'user') {
        const user = userInput.value.trim();
        client?.send({ user }, text);
        pendingDirect.push({ user, text });
      } else if (choice.startsWith('room:')) client?.publish(choice.slice('room:'.length), text);
      else client?.sendmessage(text);
      messageInput.value = '';
    });
  });
  roomForm.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => client?.join(roomInput.value.trim()));
  });
  leaveButton.addEventListener('click', () =>
    attempt(() => {
      const room = roomInput.value.trim();
      client?.leave(room);
      // While not open the client only forgets the room (a new connection is in none): no `left` will come.
      if (client?.state !== 'open' && members.left(room)) {
        append(`You left ${room}`, 'info');
        renderMembers();
        renderTargets();
      }
    }),
  );
  userInput.addEventListener('input', () => renderTargets(userInput.value.trim() === '' ? undefined : 'user'));

  connect(url);
}

void main();
