/**
 * What the chat page keeps across a reload: the name chosen (localStorage, so every tab of the
 * browser starts with it), and the token and the joined rooms (sessionStorage: this tab only,
 * gone with it, so a token never outlives the tab it was pasted into).
 * Storage can be refused (a private window's quota, a sandboxed frame): the page then keeps
 * nothing and works as before.
 */

const NAME = 'aws-node-websockets.name';
const TOKEN = 'aws-node-websockets.token';
const ROOMS = 'aws-node-websockets.rooms';

function read(storage: () => Storage, key: string): string | null {
  try {
    return storage().getItem(key);
  } catch {
    return null;
  }
}

function write(storage: () => Storage, key: string, value: string): void {
  try {
    if (value === '') storage().removeItem(key);
    else storage().setItem(key, value);
  } catch {
    // Refused storage: the value lasts as long as the page.
  }
}

const local = (): Storage => localStorage;
const session = (): Storage => sessionStorage;

export const kept = {
  name: (): string => read(local, NAME) ?? '',
  setName: (name: string): void => write(local, NAME, name),
  token: (): string => read(session, TOKEN) ?? '',
  setToken: (token: string): void => write(session, TOKEN, token),
  rooms(): string[] {
    try {
      const rooms: unknown = JSON.parse(read(session, ROOMS) ?? '[]');
      return Array.isArray(rooms) ? rooms.filter((room): room is string => typeof room === 'string') : [];
    } catch {
      return [];
    }
  },
  setRooms: (rooms: Iterable<string>): void => {
    const list = [...rooms];
    write(session, ROOMS, list.length === 0 ? '' : JSON.stringify(list));
  },
};
