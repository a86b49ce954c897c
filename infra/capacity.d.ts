/** The types of infra/capacity.js, for the TypeScript that reads it (the docs, the deploy check, the tests). */

export interface Bound {
  value: number;
  boundBy: string;
}

export interface RouteCost {
  /** The handler's CPU per invocation here, ms (one core of the bench's machine). */
  cpuMs: number;
  roundTrips: number;
  /** Posts made one after another (a summary, an answer). */
  replies: number;
  /** Whether it posts to an audience, in rounds of FANOUT_CONCURRENCY. */
  fanOut: boolean;
  memoryMb: number;
}

export interface ContainerBudget {
  containers: number;
  boundBy: string;
}

export interface CapacityInputs {
  instanceClass?: string;
  maxConnections: number;
  burst?: number | undefined;
  rate?: number | undefined;
  reserved?: number | undefined;
  accountConcurrency?: number | undefined;
}

export interface Capacity {
  instanceClass: string | undefined;
  maxConnections: number;
  budget: ContainerBudget;
  throttle: { burst: number; rate: number };
  derived: { burst: boolean; rate: boolean };
  floodRoute: string;
  floodRouteMs: number;
  containersAtThrottle: number;
  overBudget: boolean;
  newConnections: Bound;
  openConnections: number;
  rooms: { members: number; messagesIn: Bound; postsOut: number }[];
}

export const API_GATEWAY: { requestsPerSecond: number; newConnectionsPerSecond: number; connectionHours: number };
export const IAM_NEW_CONNECTIONS_PER_SECOND: number;
export const ONE_VCPU_MB: number;
export const RDS_MYSQL_MAX_CONNECTIONS: Record<string, number>;
export const DEFAULT_INSTANCE_CLASS: string;
export const MEASURED_RUN: string;
export const ROUTE_ROOM: number;
export const ROUTES: Record<string, RouteCost>;
export const STORE_PUBLISHES_PER_SECOND: { oneRoom: number; manyRooms: number };
export const DB_ROUND_TRIP_MS: number;
export const POST_MS: number;
export const POST_CPU_MS: number;
export const FANOUT_CONCURRENCY: number;
export const ROOM_SIZES: number[];

export function routeMs(route: string, members?: number): number;
export function floodRoute(): string;
export function containerBudget(inputs: {
  maxConnections: number;
  reserved?: number | undefined;
  accountConcurrency?: number | undefined;
}): ContainerBudget;
export function throttleDefaults(budget: { containers: number }): { burst: number; rate: number; durationMs: number };
export function stageCapacity(inputs: CapacityInputs): Capacity;
export function describeCapacity(capacity: Capacity): string;
export function throttleWarning(capacity: Capacity): string | undefined;
export function number(value: number): string;
