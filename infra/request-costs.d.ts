/** The types of infra/request-costs.js, for the TypeScript that reads it. */

export interface MessageCost {
  what: string;
  perMember: number;
  constant: number;
  echo: boolean | 'own';
  summary: boolean;
  note?: string;
}

export const KINDS: Record<string, MessageCost>;
export function apiRequests(
  kind: string,
  members: number,
  options?: { echo?: boolean; summary?: boolean; own?: boolean },
): number;
export function costRows(): {
  what: string;
  requests: string;
  echo: string;
  summary: string;
  both: string;
  note?: string;
}[];
