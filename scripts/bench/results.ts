/** What one benchmark run measured: runBench fills it, renderMarkdown shows it. */
import type { CapacitySection } from './capacity';
import type { ColdStartResults, PackageResult } from './cold-start';
import type { DeliveryResults } from './delivery';
import type { FanOutRow } from './fanout';
import type { BoundedLoadRow } from './bounded-load';
import type { LoadRow } from './load';
import type { HistorySection } from './history';
import type { InvocationRow, QueryRow } from './queries';
import type { RightsRow } from './rights';
import type { RoundTripSection } from './round-trips';
import type { SecretsRow } from './secrets';
import type { ShardRow } from './shards';

export interface BenchResults {
  mode: 'full' | 'smoke';
  startedAt: string;
  durationS: number;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  settings: {
    latencyMs: number;
    goneShare: number;
    repetitions: number;
    sequentialSubset: number;
    coldStartProcesses: number;
    loadClients: number;
    /** Handshakes in flight at once while the load clients connect (and clients closing at once). */
    loadConcurrency: number;
  };
  mysql: string;
  /** CPU per post of each way to make the management API request (its own section). */
  delivery: DeliveryResults;
  fanOut: FanOutRow[];
  queries: QueryRow[];
  /** MySQL statements per invocation of each route, counted on the wire (empty without MySQL). */
  invocations: InvocationRow[];
  /** Each function's first invocation from the deploy zip (`functions`), per packaging option, and single modules. */
  coldStart: ColdStartResults;
  package: PackageResult | null;
  load: LoadRow[];
  /** `--only load`: 2,000 clients in rooms of 50 under the local runtime's bound, and the service's peak RSS. */
  boundedLoad: BoundedLoadRow | null;
  /** What reading a secret adds to a cold start, by way of reading it. */
  secrets: SecretsRow[];
  /** What the rights check costs the message path (src/auth/rooms.ts, src/chat/access.ts). */
  rights: RightsRow[];
  /** What a room message's sequence + history write costs, history reads, and a flood of them. */
  history: HistorySection;
  /** Audiences beyond one invocation, through the shard code (`--only shards`, and full runs). */
  shards: { rows: ShardRow[] };
  /** Room publishes/s by store handles and rooms, and each route's duration (`--only capacity`, and full runs). */
  capacity: CapacitySection;
  /** MySQL round trips per route counted on the wire, and each route's median (`--only round-trips`, and full runs). */
  roundTrips: RoundTripSection;
}
