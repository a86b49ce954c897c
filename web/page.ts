/**
 * The chat page's script (bundled to /page.js by scripts/page/build.ts; it loads the typed
 * client from /client.js). It talks to the service it was served with (config.json, written
 * by `npm start`), or to the one named by `?url=wss://…` (a deployed stage).
 *
 * With auth on (config.json's `auth`) it makes no handshake before a token is given: the
 * client's token function waits for Connect (./token-gate.ts). Elsewhere (`?url=`), a first
 * handshake that fails asks for a token the same way: a browser is never told the HTTP
 * status of a refused WebSocket handshake (401/403), so a refusal and an unreachable service
 * look the same from here, and the page says both rather than retry a refusal forever.
 */
import { ClientSocketError, ClientUnsentError, describeError, RealtimeClient } from '../client';
import type { FrameOf, ServerMessage } from '../client';
import { kept } from './keep';
import { line } from './conversation';
import type { LineKind } from './conversation';
import { messageData, readData } from './lines';
import { Roster } from './roster';
import { StatusLine } from './status';
import { TokenGate, tokenExpired } from './token-gate';

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
const nameRow = element('name-row', HTMLDivElement);
const nameInput = element('name', HTMLInputElement);
const roomForm = element('room-form', HTMLFormElement);
const roomInput = element('room', HTMLInputElement);
const leaveButton = element('leave', HTMLButtonElement);
const userInput = element('user', HTMLInputElement);
const membersPanel = element('members', HTMLDivElement);

/** Reconnects after a restart of `npm start` (about 12 s) within a few seconds of it listening. */
const RECONNECT = { initialDelayMs: 500, maxDelayMs: 5_000, maxAttempts: Infinity };
/** A room's last frames shown when it is joined, and again after a reload (the client's join backlog). */
const BACKLOG = 50;
/** Messages sent while not connected are queued up to this many (the client's queueLimit); beyond, refused. */
const QUEUE_LIMIT = 10;

let client: RealtimeClient | undefined;
/** This connection's id (from the `list` it sends at every open), to mark its own messages. */
let myConnectionId: string | undefined;
/** The token's subject of this connection, with auth on (from the same `list`). */
let mySubject: string | null = null;
/** Members of each joined room (the name shown: the token's subject, or a short id). */
const members = new Roster();
/** The names senders chose (auth off), by connection: the members list shows them too. */
const chosenNames = new Map<string, string>();
/** Lines of messages sent while not open, until the connection opens (they are then sent). */
const queuedLines: HTMLParagraphElement[] = [];

/** Whether the service needs a token: true/false from config.json, undefined when unknown (`?url=`). */
let needsToken: boolean | undefined;
const gate = new TokenGate();
/** A connection has opened with the token now in use: a failure after that is a drop, retried. */
let everOpened = false;
/** The next attempt waits for Connect: the last one failed before any connection opened. */
let askForToken = false;
let serviceUrl = '';

const status = new StatusLine(statusLine, QUEUE_LIMIT);

function showOpen(): void {
  const as = mySubject ?? (nameInput.value.trim() || undefined);
  status.show(`Connected to ${serviceUrl}${as === undefined ? '' : ` as ${as}`}`, 'open');
}

function append(text: string, kind: LineKind, sentAt?: number): HTMLParagraphElement {
  const paragraph = line(text, kind, sentAt);
  log.append(paragraph);
  log.scrollTop = log.scrollHeight;
  return paragraph;
}

function nameOf(from: string | null | undefined, connectionId: string | undefined): string {
  const chosen = connectionId === undefined ? undefined : chosenNames.get(connectionId);
  const name = from ?? chosen ?? (connectionId === undefined ? 'server' : `#${connectionId.slice(0, 8)}`);
  return connectionId !== undefined && connectionId === myConnectionId ? `${name} (you)` : name;
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

/** The rooms this tab is in, for the next reload. */
function keepRooms(): void {
  if (client) kept.setRooms(client.rooms);
}

/**
 * Direct messages sent and not yet answered, oldest first. The service does not echo a
 * direct message to its sender, so the page writes "You to user …" when the delivery
 * summary comes, never for a send that was refused.
 */
const pendingDirect: { user: string; text: string }[] = [];

function onMessage(frame: ServerMessage): void {
  switch (frame.type) {
    case 'message': {
      const { text, name } = readData(frame.data);
      const connectionId = frame.origin === 'client' ? frame.connectionId : undefined;
      // A chosen name counts only where the service names nobody (auth off).
      if (frame.from === null && name !== undefined && connectionId !== undefined) {
        chosenNames.set(connectionId, name);
      }
      append(`${nameOf(frame.from, connectionId)}${whereOf(frame)}: ${text}`, 'message', frame.sentAt);
      if (frame.room !== undefined) renderMembers();
      break;
    }
    case 'delivery': {
      const sent = frame.user === undefined ? -1 : pendingDirect.findIndex((p) => p.user === frame.user);
      if (sent !== -1) {
        const [direct] = pendingDirect.splice(sent, 1);
        if (direct) append(`You to user ${direct.user}: ${direct.text}`, 'message', Date.now());
      }
      append(describeDelivery(frame), 'delivery');
      break;
    }
    case 'joined':
      members.asked(frame.room);
      append(`You joined ${frame.room}`, 'info');
      client?.members(frame.room);
      keepRooms();
      renderMembers();
      renderTargets(`room:${frame.room}`);
      break;
    case 'left':
      members.left(frame.room);
      append(frame.wasMember ? `You left ${frame.room}` : `You were not in ${frame.room}`, 'info');
      keepRooms();
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
      // This connection's own join (in a backlog) is the "You joined" line already.
      if (frame.connectionId === myConnectionId) {
        renderMembers();
        break;
      }
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
      mySubject = frame.connections.find((c) => c.connectionId === frame.you)?.from ?? null;
      append(`Connected: ${frame.count} connection${frame.count === 1 ? '' : 's'} open`, 'info');
      if (client?.state === 'open') showOpen();
      renderMembers();
      break;
    case 'error':
      // Errors name no request: a refusal while a direct message waits is taken to be its own.
      if (pendingDirect.length > 0) pendingDirect.shift();
      if (frame.action === 'join') keepRooms(); // a refused join is forgotten by the client
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

/**
 * The client's token function. It waits for Connect when the service needs a token and none
 * was given, when the one given has expired, or when the last attempt failed before any
 * connection opened (a refused token, or a `?url=` that needs one); else it answers at once.
 */
async function nextToken(): Promise<string> {
  for (;;) {
    const token = tokenInput.value.trim();
    if (token !== '' && tokenExpired(token, Date.now())) {
      askForToken = true;
      status.show('The token has expired: paste a new one and press Connect.', 'refused');
    } else if (!askForToken && needsToken === true && token === '') {
      status.show('Waiting for a token: paste one and press Connect. Nothing is sent before.', 'waiting');
    } else if (!askForToken) {
      return token;
    }
    showTokenField();
    await gate.wait(); // Connect: the field is read again
  }
}

function connect(url: string, backlogRooms: readonly string[] = []): void {
  const previous = client;
  client = undefined; // its close below is not this page's news
  previous?.close();
  everOpened = false;
  askForToken = false;
  const next = new RealtimeClient({ url, token: nextToken, reconnect: RECONNECT, queueLimit: QUEUE_LIMIT });
  client = next;
  members.clear();
  renderMembers();
  renderTargets();
  next.on('open', () => {
    if (client !== next) return;
    everOpened = true;
    // The queue went out before 'open': its lines say so now.
    for (const queued of queuedLines.splice(0)) {
      queued.className = 'info';
      queued.textContent = queued.textContent.replace(/^Queued \(sent once connected\): /, 'Sent after connecting: ');
    }
    status.queued = 0;
    showOpen();
    next.list();
  });
  next.on('close', (event) => {
    if (client !== next) return;
    if (!event.wasOpen && !everOpened && needsToken !== false) {
      // Refused, or unreachable: retrying the same token could only be refused again.
      askForToken = true;
      showTokenField();
      const why = needsToken
        ? `The service at ${url} did not accept this token (or is unreachable): paste another and press Connect.`
        : `Could not connect to ${url}: the service refused the connection or is unreachable. ` +
          'If it requires a token, enter one and press Connect.';
      status.show(why, 'refused');
    } else if (event.willReconnect) {
      const reason = event.wasOpen
        ? `Disconnected (code ${event.code}${event.reason ? `: ${event.reason}` : ''}).`
        : '';
      status.show(`${reason} Reconnecting…`.trim(), 'reconnecting');
    } else {
      status.show(`Disconnected (code ${event.code}); not reconnecting: reload the page to connect again.`, 'closed');
    }
  });
  next.on('reconnecting', (event) => {
    if (client !== next || askForToken) return;
    status.show(`Reconnecting in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})…`, 'reconnecting');
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
    // A socket error is always followed by its close, which the status line reports; what a
    // replaced client had queued is reported line by line below.
    if (client !== next || error instanceof ClientSocketError || error instanceof ClientUnsentError) return;
    append(`Error: ${error.message}`, 'error');
  });
  // Rooms joined on the previous connection stay joined on the new one; those of the previous
  // page (a reload) come with their last messages.
  for (const room of previous?.rooms ?? []) next.join(room);
  for (const room of backlogRooms) next.join(room, { backlog: BACKLOG });
  status.show(`Connecting to ${url}…`, 'connecting');
  next.connect();
}

/** Why a message was not sent, in a line. */
function refused(error: unknown): void {
  append(`Not sent: ${error instanceof Error ? error.message : String(error)}`, 'error');
}

/** Runs a client call, and says so plainly when the client refuses it (closed, or its queue is full). */
function attempt(action: () => void): boolean {
  try {
    action();
    return true;
  } catch (error) {
    refused(error);
    return false;
  }
}

/** Sends what the form says; a message sent while not open gets a "Queued" line until it goes. */
function send(text: string, choice: string): void {
  const current = client;
  if (!current) return;
  if (!navigator.onLine) {
    refused(new Error('the browser is offline (the text stays in the field: send it again once it is back)'));
    return;
  }
  const queued = current.state !== 'open';
  const data = needsToken === true ? text : messageData(text, nameInput.value);
  const sent = attempt(() => {
    if (choice === 'user') {
      const user = userInput.value.trim();
      current.send({ user }, data);
      pendingDirect.push({ user, text });
    } else if (choice.startsWith('room:')) {
      // Its echo shows it; a refusal (closed, timed out) is said in a line.
      current.publish(choice.slice('room:'.length), data).catch(refused);
    } else current.sendmessage(data);
  });
  if (!sent) return;
  messageInput.value = '';
  if (queued) {
    queuedLines.push(append(`Queued (sent once connected): ${text}`, 'queued'));
    status.queued = queuedLines.length;
    status.render();
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
    status.show('No service to talk to: open this page from `npm start`, or add ?url=wss://…', 'closed');
    return;
  }
  serviceUrl = url;
  needsToken = config ? config.auth !== 'off' : undefined;
  tokenInput.value = kept.token();
  if (needsToken === true || tokenInput.value !== '') showTokenField();
  // A chosen name is for a service that names nobody: with auth on, the token names you.
  nameRow.hidden = needsToken === true;
  nameInput.value = kept.name();

  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    kept.setToken(tokenInput.value.trim());
    askForToken = false;
    // A connect waiting for a token takes it; otherwise a new connection with it.
    if (!gate.open()) connect(url);
  });
  nameInput.addEventListener('input', () => {
    kept.setName(nameInput.value.trim());
    if (client?.state === 'open') showOpen();
  });
  sendForm.addEventListener('submit', (event) => {
    event.preventDefault();
    send(messageInput.value, target.value);
  });
  roomForm.addEventListener('submit', (event) => {
    event.preventDefault();
    attempt(() => client?.join(roomInput.value.trim(), { backlog: BACKLOG }));
    keepRooms();
  });
  leaveButton.addEventListener('click', () =>
    attempt(() => {
      const room = roomInput.value.trim();
      client?.leave(room);
      keepRooms();
      // While not open the client only forgets the room (a new connection is in none): no `left` will come.
      if (client?.state !== 'open' && members.left(room)) {
        append(`You left ${room}`, 'info');
        renderMembers();
        renderTargets();
      }
    }),
  );
  userInput.addEventListener('input', () => renderTargets(userInput.value.trim() === '' ? undefined : 'user'));
  for (const change of ['online', 'offline']) {
    window.addEventListener(change, () => status.render());
  }

  connect(url, kept.rooms());
}

void main();
