/** The benchmark's results as Markdown tables, section by section (what BENCHMARKS.md shows). */
import { capacityMarkdown } from './capacity';
import { roundTripsMarkdown } from './round-trips';
import type { WireCount } from './queries';
import type { RightsRow } from './rights';
import type { BenchResults } from './results';
import { round } from './stats';

const table = (header: string[], rows: (string | number)[][]): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');

const fmt = (value: number | null): string => (value === null ? '–' : value.toLocaleString('en-US'));

const wireText = (wire: WireCount | null): string =>
  wire === null
    ? '–'
    : `${wire.total}: ` +
      Object.entries(wire.byKind)
        .map(([kind, n]) => `${kind}${n > 1 ? ` ×${n}` : ''}`)
        .join(', ');

/** The bounded load's table (`--only load`), when it ran. */
function boundedLoadMarkdown(results: BenchResults): string[] {
  const out: string[] = [];
  const bounded = results.boundedLoad;
  if (bounded) {
    out.push(
      `\n### Bounded load (${bounded.clients} clients in rooms of ${bounded.roomSize}, LOCAL_MAX_CONCURRENCY ${bounded.maxConcurrency})\n`,
    );
    out.push(
      table(
        [
          'connect ms',
          'refused',
          'publish ms',
          'received / expected',
          'RSS before / peak MB',
          'peak threads',
          'under bound',
        ],
        [
          [
            fmt(bounded.connectMs),
            bounded.refused,
            fmt(bounded.publishMs),
            `${fmt(bounded.received)} / ${fmt(bounded.expected)}`,
            `${fmt(bounded.baselineRssMb)} / ${fmt(bounded.peakRssMb)}`,
            bounded.peakThreads,
            `${bounded.withinBound ? 'yes' : 'NO'} (< ${fmt(bounded.rssBoundMb)} MB)`,
          ],
        ],
      ),
    );
  }
  return out;
}

/** The cold-start tables: each function from the shipped zip against its target, each packaging option, single modules. */
/** Each packaging option's first invocations side by side, and the first option (before) against the shipped one. */
function packagingMarkdown(options: BenchResults['coldStart']['options']): string[] {
  const out: string[] = [];
  const names = options[0]?.functions.map((r) => r.function) ?? [];
  const mean = (values: number[]) => round(values.reduce((sum, value) => sum + value, 0) / values.length);
  const cell = (r: { firstInvokeMs: number; firstInvokeCpuMs: number }) =>
    `${fmt(r.firstInvokeMs)} (${fmt(r.firstInvokeCpuMs)})`;
  out.push(
    '\n#### Each way of packaging, side by side: first invocation ms (CPU ms); mean CPU ms of the first invocation and of the load\n',
  );
  out.push(
    table(
      ['option', 'zip bytes', ...names, 'mean CPU ms', 'mean load CPU ms'],
      options.map((option) => [
        option.option,
        option.zipBytes === null ? '–' : fmt(option.zipBytes),
        ...names.map((name) => {
          const row = option.functions.find((r) => r.function === name);
          return row ? cell(row) : '–';
        }),
        fmt(mean(option.functions.map((r) => r.firstInvokeCpuMs))),
        fmt(mean(option.functions.map((r) => r.loadCpuMs))),
      ]),
    ),
  );
  const before = options[0];
  const shipped = options.find((option) => option.shipped);
  if (!before || !shipped || before === shipped) return out;
  out.push('\n#### Before and after: first invocation ms (CPU ms)\n');
  out.push(
    table(
      ['function', 'before', 'after', 'CPU', 'target ms'],
      names.map((name) => {
        const a = before.functions.find((r) => r.function === name);
        const b = shipped.functions.find((r) => r.function === name);
        if (!a || !b) return [name, '–', '–', '–', '–'];
        const change = Math.round((100 * (b.firstInvokeCpuMs - a.firstInvokeCpuMs)) / a.firstInvokeCpuMs);
        return [name, cell(a), cell(b), `${change}%`, b.targetMs === undefined ? '–' : b.targetMs];
      }),
    ),
  );
  return out;
}

function coldStartMarkdown(results: BenchResults): string[] {
  const { functions, options, cases } = results.coldStart;
  if (functions.length === 0 && cases.length === 0) return [];
  const processes = results.settings.coldStartProcesses;
  const out: string[] = [
    `\n### Cold start: each function's first invocation from the deploy zip, as in AWS (fresh Node processes, median of ${processes}, interleaved)\n`,
  ];
  if (functions.length === 0) out.push('No deploy zip in this run (a smoke run makes none): the modules alone.');
  if (functions.length > 0) {
    out.push(
      'Module load + credential step + store driver and its first connection (TLS, MariaDB on loopback) + the ' +
        "handler's work, from the first require to the answer. CPU: the process's user + system time over the same span. " +
        'The targets bound the module load and the credential step (signing the RDS IAM token, timed alone in fresh processes).\n',
    );
    out.push(
      table(
        [
          'function',
          'first invocation',
          'first invocation ms',
          'CPU ms',
          'load ms (CPU)',
          'load + credential ms',
          'target ms (load + credential)',
          'secret reads',
          'warm ms',
        ],
        functions.map((r) => [
          r.function,
          r.invocation,
          fmt(r.firstInvokeMs),
          fmt(r.firstInvokeCpuMs),
          `${fmt(r.loadMs)} (${fmt(r.loadCpuMs)})`,
          r.loadAndCredentialMs === undefined ? '–' : fmt(r.loadAndCredentialMs),
          r.targetMs === undefined || r.loadAndCredentialMs === undefined
            ? '–'
            : `≤ ${r.targetMs} ${r.loadAndCredentialMs <= r.targetMs ? '(met)' : '(missed)'}`,
          r.secretReads,
          fmt(r.warmInvokeMs),
        ]),
      ),
    );
  }
  if (options.length > 0) out.push(...packagingMarkdown(options));
  if (results.package) {
    const p = results.package;
    out.push(
      `\nDeploy zip (\`sls package\`): ${fmt(p.zipBytes)} bytes = ${p.zipMb} MB, ${p.files} files; packaging took ${fmt(p.packageMs)} ms.`,
    );
  }
  out.push(`\n#### Modules alone (fresh Node processes, median of ${processes})\n`);
  out.push(
    table(
      ['case', 'load ms', 'first invocation ms', 'warm invocation ms', 'process spawn→exit ms'],
      cases.map((r) => [r.case, fmt(r.loadMs), fmt(r.firstInvokeMs), fmt(r.warmInvokeMs), fmt(r.processMs)]),
    ),
  );
  return out;
}

function rightsMarkdown(rows: readonly RightsRow[]): string[] {
  return [
    "\n### The rights check on the message path (a member's publish to a room of 10, embedded store in memory, " +
      'an outbox that does nothing; median of 5 repetitions after a warm-up)\n',
    table(
      ['case', 'messages', 'µs / message', 'store calls / message', 'status'],
      rows.map((r) => [r.case, fmt(r.messages), r.usPerMessage, r.storeCalls, r.status]),
    ),
  ];
}

/** The results as Markdown tables (also what BENCHMARKS.md shows). */
export function renderMarkdown(results: BenchResults): string {
  const { machine, settings } = results;
  const out: string[] = [];
  out.push(
    `Run ${results.startedAt} (${results.mode}, ${results.durationS} s) on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGb} GB, Node ${machine.node}, ${machine.platform}. MySQL: ${results.mysql}.`,
  );
  const { delivery } = results;
  if (delivery.rows.length > 0) {
    const posts = delivery.rows[0]?.posts ?? 0;
    out.push(
      `\n### Delivery: CPU per post (stand-in at 0 ms, ${fmt(posts)} posts through fanOut at concurrency 50, ` +
        `median of ${delivery.rows[0]?.repetitions ?? 0} interleaved repetitions after a warm-up; × floor: median of each repetition's ratio; chosen: ${delivery.chosen})\n`,
    );
    out.push(
      table(
        ['candidate', 'CPU µs / post', '× floor', 'wall ms', 'CPU / wall', 'errors'],
        delivery.rows.map((r) => [r.candidate, r.cpuPerPostUs, r.ratioToFloor, fmt(r.wallMs), r.cpuPerWall, r.errors]),
      ),
    );
  }
  if (results.shards.rows.length > 0) {
    out.push(
      `\n### Sharded fan-out (stand-in latency ${settings.latencyMs} ms, every shard at once with its own client, ` +
        `paced to FANOUT_MAX_RATE; ideal = recipients / rate)\n`,
    );
    out.push(
      table(
        [
          'recipients',
          'shard size',
          'shards',
          'delivered (distinct)',
          'posts',
          'failed / unsent',
          'summaries',
          'seconds',
          'ideal s',
          '× ideal',
          'plan s',
          'ids held per shard',
          'heap peak MB (per shard)',
          'max in flight',
          'CPU / wall: shards, stand-in',
          'load avg',
        ],
        results.shards.rows.map((r) => [
          fmt(r.recipients),
          fmt(r.shardSize),
          r.shards,
          fmt(r.delivered),
          fmt(r.posts),
          `${r.failed} / ${r.unsent}`,
          r.summaries,
          r.seconds,
          r.idealSeconds,
          `${r.ratioToIdeal} ${r.ratioToIdeal <= 1.2 ? '(met)' : '(MISSED)'}`,
          r.planSeconds,
          fmt(r.pageIds),
          `${r.heapPeakMb} (${r.heapPerShardMb})`,
          r.maxInFlight,
          `${r.senderCpuPerWall}, ${r.standInCpuPerWall}`,
          r.loadAverage,
        ]),
      ),
    );
  }
  if (results.fanOut.length > 0) {
    out.push(
      `\n### Fan-out (stand-in latency ${settings.latencyMs} ms, ${settings.goneShare * 100}% of ids answer 410; ` +
        `median of the repetitions per row, after one discarded warm-up round)\n`,
    );
    out.push(
      table(
        [
          'strategy',
          'N',
          'reps',
          'time ms',
          'posts/s',
          'max in flight',
          'sockets',
          'ideal ms',
          '× ideal',
          'sent / 410 / failed',
          'sender CPU ms',
          'sender CPU µs / post',
          'sender CPU / wall',
          'stand-in CPU ms',
          'heap peak MB',
        ],
        results.fanOut.map((r) => [
          r.strategy + (r.extrapolated ? ` (measured on ${r.measured}, extrapolated)` : ''),
          fmt(r.recipients),
          r.repetitions,
          fmt(r.ms),
          fmt(r.postsPerSecond),
          r.maxInFlight,
          r.sockets,
          fmt(r.idealMs),
          r.ratioToIdeal,
          `${r.sent} / ${r.stale} / ${r.failed}`,
          fmt(r.senderCpuMs),
          r.cpuPerPostUs,
          r.senderCpuPerWall,
          fmt(r.standInCpuMs),
          r.heapPeakMb,
        ]),
      ),
    );
  }
  if (results.rights.length > 0) out.push(...rightsMarkdown(results.rights));
  if (results.history.rows.length > 0) out.push(...historyMarkdown(results.history));
  out.push(...capacityMarkdown(results.capacity));
  out.push(...roundTripsMarkdown(results.roundTrips));
  // `--only`: the sections asked for, nothing else (a full run always measures secrets).
  if (results.secrets.length === 0) {
    return [...out, ...coldStartMarkdown(results), ...boundedLoadMarkdown(results)].join('\n') + '\n';
  }
  out.push('\n### Store calls per fan-out (sendmessage through messaging.ts, counting proxy)\n');
  out.push(
    table(
      [
        'store',
        'recipients',
        '410s',
        'store calls',
        'as designed (1 audience + 1 removeMany)',
        'SQL statements per removeMany',
        'rows left / expected',
        'sendmessage ms',
        'MySQL commands on the wire (incl. end())',
      ],
      results.queries.map((r) => [
        r.store,
        r.recipients,
        r.stale,
        Object.entries(r.calls)
          .map(([name, c]) => `${name} ×${c.count} (${c.ms} ms)`)
          .join(', '),
        r.asDesigned ? 'yes' : 'NO',
        r.statementsPerRemoveMany,
        `${r.rowsLeft} / ${r.rowsExpected}`,
        fmt(r.ms),
        wireText(r.wire),
      ]),
    ),
  );
  if (results.invocations.length > 0) {
    out.push(
      '\n### MySQL statements per invocation (real handlers, counted on the wire by a protocol-reading proxy, end() included)\n',
    );
    out.push(
      table(
        ['invocation', 'status', 'commands'],
        results.invocations.map((r) => [r.invocation, r.statusCode, wireText(r.wire)]),
      ),
    );
  }
  out.push(...coldStartMarkdown(results));
  out.push(
    `\n### Secrets: what the first read adds to a cold start (fresh Node processes, median of ${settings.coldStartProcesses}; ` +
      'a Secrets Manager stand-in on 127.0.0.1)\n',
  );
  out.push(
    table(
      ['way', 'load ms', 'first read ms', 'load + first read ms', 'second read ms'],
      results.secrets.map((r) => [r.case, fmt(r.loadMs), fmt(r.firstReadMs), fmt(r.coldMs), fmt(r.warmReadMs)]),
    ),
  );
  out.push(
    `\n### Load under serverless-offline (${settings.loadClients} clients, ${settings.loadConcurrency} handshakes in flight, --noTimeout)\n`,
  );
  out.push(
    table(
      [
        'store',
        'clients',
        'in flight (connect / close)',
        'cold connect ms',
        'connect storm ms',
        'connects/s',
        'received / lost',
        'delivery summary',
        'latency p50 / p99 / max ms',
        'drain ms',
        'store empty',
      ],
      results.load.map((r) => [
        r.store,
        r.clients,
        `${r.connectConcurrency} / ${r.closeConcurrency}`,
        fmt(r.coldConnectMs),
        fmt(r.connectMs),
        r.connectsPerSecond,
        `${r.received} / ${r.lost}`,
        `${r.delivery.sent} sent, ${r.delivery.stale} stale, ${r.delivery.failed} failed, ${r.delivery.unsent} unsent`,
        `${fmt(r.latencyP50Ms)} / ${fmt(r.latencyP99Ms)} / ${fmt(r.latencyMaxMs)}`,
        fmt(r.drainMs),
        r.storeEmpty ? `yes (count ${r.finalCount})` : `NO (count ${r.finalCount})`,
      ]),
    ),
  );
  out.push(...boundedLoadMarkdown(results));
  return out.join('\n') + '\n';
}

function historyMarkdown({ rows, reads, flood }: BenchResults['history']): string[] {
  const out = [
    '\n### Room history: the sequence + history write per post, and reads (one after another, median and p99; MySQL through the counting proxy)\n',
    table(
      ['store', 'case', 'operations', 'median ms', 'p99 ms', 'MySQL commands / operation', 'KB from MySQL / operation'],
      rows.map((r) => [
        r.store,
        r.case,
        r.operations,
        r.medianMs,
        r.p99Ms,
        r.commandsPerOperation ?? '–',
        r.kbFromServer ?? '–',
      ]),
    ),
  ];
  if (reads.length > 0) {
    out.push('\n### One history answer (after 0, limit 1,000), four ways to read it on MySQL (median)\n');
    out.push(
      table(
        ['room', 'way', 'queries', 'median ms', 'KB from MySQL', 'same answer'],
        reads.map((r) => [r.room, r.way, r.queries, r.medianMs, fmt(r.kbFromServer), r.sameAnswer ? 'yes' : 'NO']),
      ),
    );
  }
  if (flood.length > 0) {
    out.push(
      '\n### A flood of history requests (40 at once from 8 connections, after 0, limit 1,000) under `npm start`, a bystander publishing in another room\n',
    );
    out.push(
      table(
        [
          'store',
          'kept (120 KB each)',
          'answered',
          'largest answer KB',
          'flood ms',
          'bystander at rest ms',
          'bystander worst ms',
          'bystander refused',
          'RSS before / peak MB',
        ],
        flood.map((r) => [
          r.store,
          fmt(r.kept),
          `${r.answered} / ${r.requests}`,
          r.largestReplyKb,
          fmt(r.floodMs),
          r.bystanderAtRestMs,
          fmt(r.bystanderWorstMs),
          r.bystanderRefused,
          `${fmt(r.baselineRssMb)} / ${fmt(r.peakRssMb)}`,
        ]),
      ),
    );
  }
  return out;
}
