/**
 * What a stage with these settings carries (infra/capacity.js), for `npm run deploy -- --check`:
 * the instance's connection budget as settings.js resolves it (DB_MAX_CONNECTIONS, else the
 * class's), the throttle as set or derived, and the reservations; one line, and a warning when
 * a throttle that was set could keep more containers busy than the budget holds.
 */
import { text } from './settings';
import type { Settings } from './settings';

import * as model from '../../infra/capacity';

export interface StageCapacity {
  /** The one line, or undefined when the settings leave it unknown (the problems say why). */
  line: string | undefined;
  warning: string | undefined;
  problems: string[];
}

/** A positive number (whole when `integer`), or a problem naming the setting as settings.js words it. */
function positive(settings: Settings, name: string, integer: boolean, problems: string[]): number | undefined {
  const given = text(settings[name]);
  if (given === undefined) return undefined;
  const value = Number(given);
  if (Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value))) return value;
  problems.push(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(given)}`);
  return undefined;
}

export function stageCapacityOf(settings: Settings): StageCapacity {
  const problems: string[] = [];
  const instanceClass = text(settings.DB_INSTANCE_CLASS) ?? model.DEFAULT_INSTANCE_CLASS;
  const known = Object.hasOwn(model.RDS_MYSQL_MAX_CONNECTIONS, instanceClass)
    ? model.RDS_MYSQL_MAX_CONNECTIONS[instanceClass]
    : undefined;
  const maxConnections = positive(settings, 'DB_MAX_CONNECTIONS', true, problems) ?? known;
  if (maxConnections === undefined && text(settings.DB_MAX_CONNECTIONS) === undefined) {
    problems.push(
      `DB_INSTANCE_CLASS ${instanceClass} has no known connection budget: set DB_MAX_CONNECTIONS to its ` +
        `max_connections (RDS MySQL's default is {DBInstanceClassMemory/12582880})`,
    );
  }
  const burst = positive(settings, 'WS_THROTTLE_BURST', true, problems);
  const rate = positive(settings, 'WS_THROTTLE_RATE', false, problems);
  // Malformed reservations are checkReservedConcurrency's problems; here they only count when whole.
  const whole = (name: string) => {
    const given = text(settings[name]);
    return given !== undefined && /^[1-9]\d*$/.test(given) ? Number(given) : undefined;
  };
  if (problems.length > 0 || maxConnections === undefined) return { line: undefined, warning: undefined, problems };
  const capacity = model.stageCapacity({
    instanceClass,
    maxConnections,
    burst,
    rate,
    reserved: whole('RESERVED_CONCURRENCY'),
    accountConcurrency: whole('ACCOUNT_CONCURRENCY'),
  });
  return { line: model.describeCapacity(capacity), warning: model.throttleWarning(capacity), problems };
}
