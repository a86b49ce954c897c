import { tmpdir } from 'node:os';
import { join } from 'node:path';

// No test may reach AWS: no metadata probing, and fake credentials for any client
// that is pointed at localhost.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
process.env.AWS_REGION = 'us-east-1';
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'error';
// The WebSocket API a deployed function is given (serverless.yml), the one the event
// fixtures name (test/fixtures): the handlers serve only its events and post only to it.
process.env.WEBSOCKET_API_ID = process.env.WEBSOCKET_API_ID ?? 'abc123';
process.env.WEBSOCKET_API_ENDPOINT =
  process.env.WEBSOCKET_API_ENDPOINT ?? 'https://abc123.execute-api.us-east-1.amazonaws.com/dev';
// A delivery writes its metrics to stdout (src/chat/fanout/emf.ts); test/unit/metrics.test.ts turns them on.
process.env.POWERTOOLS_METRICS_DISABLED = process.env.POWERTOOLS_METRICS_DISABLED ?? 'true';
// Departures wait EVENTS_DEBOUNCE_MS (3 s) for a reconnect, in the route that made them; tests that
// are not about it do not wait (test/unit/lifecycle-events.test.ts sets its own).
process.env.EVENTS_DEBOUNCE_MS = process.env.EVENTS_DEBOUNCE_MS ?? '0';
// The suites start `npm start` some fifty times from copies of the same sources: its TypeScript
// compile is done once per set of sources and kept here (scripts/compile-cache.js).
process.env.WS_COMPILE_CACHE = process.env.WS_COMPILE_CACHE ?? join(tmpdir(), 'aws-node-websockets-compile');
