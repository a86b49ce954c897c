// The settings of the local API Gateway's limits (scripts/local-limits.js says what each
// limit does, as AWS does it, and where AWS says so): one setting per limit, each a key of
// .env.yml.example, on by default with AWS's value and turned off by `off`. Read by `npm start`
// (scripts/local.ts: its problems stop it, its description is printed) and again in the
// serverless process, from the variables `npm start` hands it.
'use strict';

/** API Gateway's values, the defaults of the settings below. */
const AWS_LIMITS = Object.freeze({
  maxFrameBytes: 32 * 1024,
  maxMessageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60_000,
  maxConnectionAgeMs: 2 * 3_600_000,
  newConnectionsPerSecond: 500,
});

/**
 * One setting per limit (each a key of .env.yml.example): how it is written, what it
 * defaults to. `off` turns any of them off. The stage throttling's figures are the stage's own
 * settings, WS_THROTTLE_BURST and WS_THROTTLE_RATE (settings.js derives them); LOCAL_THROTTLE
 * only says whether `npm start` keeps them.
 */
const LIMIT_SETTINGS = Object.freeze([
  { name: 'LOCAL_THROTTLE', key: 'throttle', kind: 'switch', default: 'on' },
  {
    name: 'LOCAL_NEW_CONNECTIONS_PER_SECOND',
    key: 'newConnectionsPerSecond',
    kind: 'count',
    default: AWS_LIMITS.newConnectionsPerSecond,
  },
  { name: 'LOCAL_MAX_FRAME_BYTES', key: 'maxFrameBytes', kind: 'count', default: AWS_LIMITS.maxFrameBytes },
  { name: 'LOCAL_MAX_MESSAGE_BYTES', key: 'maxMessageBytes', kind: 'count', default: AWS_LIMITS.maxMessageBytes },
  { name: 'LOCAL_IDLE_TIMEOUT', key: 'idleTimeoutMs', kind: 'duration', default: '10m' },
  { name: 'LOCAL_MAX_CONNECTION_AGE', key: 'maxConnectionAgeMs', kind: 'duration', default: '2h' },
]);

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The longest a Node timer waits (2^31 - 1 ms, about 24.8 days): a longer duration would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

function isOff(value) {
  return typeof value === 'string' && value.trim().toLowerCase() === 'off';
}

function present(value) {
  return value !== undefined && value !== null && String(value).trim() !== '';
}

/** One setting's value as the limit it sets (null: off), or a one-line problem. */
function readOne(spec, raw) {
  const value = present(raw) ? raw : spec.default;
  if (spec.kind === 'switch') {
    const word = String(value).trim().toLowerCase();
    if (word === 'on' || value === true) return { value: true };
    if (word === 'off' || value === false) return { value: null };
    return { problem: `${spec.name} must be on or off, got "${raw}"` };
  }
  if (isOff(value)) return { value: null };
  if (spec.kind === 'count') {
    const number = Number(value);
    if (Number.isInteger(number) && number >= 1) return { value: number };
    return { problem: `${spec.name} must be a positive whole number or off, got "${raw}"` };
  }
  const match = /^(\d+)([smhd]?)$/.exec(String(value).trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] || 's'] : NaN;
  if (ms >= 1_000 && ms <= MAX_TIMER_MS) return { value: ms };
  return { problem: `${spec.name} must be a duration from 1s to 24d like 30s, 10m, 2h, or off, got "${raw}"` };
}

/**
 * The limits `settings` ask for (the resolved settings of settings.js, or an environment
 * holding them under the same names): { limits, problems }, with one line per bad value.
 * `limits.throttle` is { burst, rate } or null; every other limit a number or null (off).
 */
function readLimits(settings) {
  const limits = {};
  const problems = [];
  for (const spec of LIMIT_SETTINGS) {
    const { value, problem } = readOne(spec, settings[spec.name]);
    if (problem) problems.push(problem);
    limits[spec.key] = problem ? null : value;
  }
  if (limits.throttle) {
    const burst = Number(settings.WS_THROTTLE_BURST);
    const rate = Number(settings.WS_THROTTLE_RATE);
    if (Number.isInteger(burst) && burst >= 1 && Number.isFinite(rate) && rate > 0) {
      limits.throttle = { burst, rate };
    } else {
      problems.push(
        'LOCAL_THROTTLE is on but WS_THROTTLE_BURST and WS_THROTTLE_RATE are not set (settings.js sets them)',
      );
      limits.throttle = null;
    }
  }
  return { limits, problems };
}

function durationText(ms) {
  for (const [unit, size] of [
    ['d', UNIT_MS.d],
    ['h', UNIT_MS.h],
    ['m', UNIT_MS.m],
  ]) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1_000}s`;
}

/** The limits in one line, for `npm start`'s output. */
function describeLimits(limits) {
  const or = (value, text) => (value === null ? 'off' : text);
  return [
    `throttling ${or(limits.throttle, limits.throttle && `${limits.throttle.burst} at once, ${limits.throttle.rate}/s per route`)}`,
    `new connections ${or(limits.newConnectionsPerSecond, `${limits.newConnectionsPerSecond}/s`)}`,
    `frames ${or(limits.maxFrameBytes, `<= ${limits.maxFrameBytes} B`)}`,
    `messages ${or(limits.maxMessageBytes, `<= ${limits.maxMessageBytes} B`)}`,
    `idle close ${or(limits.idleTimeoutMs, limits.idleTimeoutMs && durationText(limits.idleTimeoutMs))}`,
    `connections end after ${or(limits.maxConnectionAgeMs, limits.maxConnectionAgeMs && durationText(limits.maxConnectionAgeMs))}`,
  ].join(', ');
}

module.exports = { AWS_LIMITS, LIMIT_SETTINGS, describeLimits, durationText, readLimits };
