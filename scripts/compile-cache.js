// A cache of serverless-plugin-typescript's compile, for the test suites only: each of them
// starts `npm start` from a private copy of the service, and the plugin compiles the same
// sources every time (about 5 s of CPU with its type check; the suites start the service some
// fifty times). With WS_COMPILE_CACHE set to a folder (test/setup-env.ts sets it), the plugin's
// `run` is wrapped: the first compile of a set of sources is kept there under a hash of them
// and of the options, and a later compile of the very same sources copies it instead. Only a
// compile without a diagnostic is kept, so a cached one is one that type-checked. Unset (what
// `npm start` and `sls` see), nothing changes.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

/** Every file a compile of `rootFileNames` can read: the service's .ts sources and its tsconfig. */
function sourceFiles(dir) {
  const found = [];
  const walk = (folder) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) found.push(full);
    }
  };
  walk(path.join(dir, 'src'));
  return found.sort();
}

function cacheKey(dir, rootFileNames, options, typescriptVersion) {
  const hash = crypto.createHash('sha256');
  // Each suite's copy of the service is a folder of its own: its path is no part of what compiles.
  const settings = JSON.stringify({ options, rootFileNames }).split(dir).join('<service>');
  hash.update(`${typescriptVersion}\0${settings}\0`);
  for (const file of [path.join(dir, 'tsconfig.json'), ...sourceFiles(dir)]) {
    hash
      .update(`${path.relative(dir, file)}\0`)
      .update(fs.readFileSync(file))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 32);
}

/** Wraps the plugin's `run(fileNames, options)` (resolved from `dir`, the service) with the cache in `cacheDir`. */
function installCompileCache(dir, cacheDir) {
  let compiler;
  try {
    compiler = require(require.resolve('serverless-plugin-typescript/dist/src/typescript', { paths: [dir] }));
  } catch {
    return false;
  }
  const ts = require(require.resolve('typescript', { paths: [dir] }));
  const run = compiler.run;
  compiler.run = async function cachedRun(fileNames, options) {
    const key = cacheKey(dir, fileNames, options, ts.version);
    const entry = path.join(cacheDir, key);
    const outDir = path.resolve(dir, options.outDir);
    const listing = path.join(entry, 'emitted.json');
    if (fs.existsSync(listing)) {
      fs.cpSync(path.join(entry, 'files'), outDir, { recursive: true });
      const { absolute, files } = JSON.parse(fs.readFileSync(listing, 'utf8'));
      return files.map((file) => path.join(absolute ? outDir : options.outDir, file));
    }
    const diagnostics = [];
    // The plugin prints each diagnostic with console.log and fails only when nothing was emitted.
    const { console: out } = globalThis;
    const log = out.log;
    out.log = (...args) => {
      diagnostics.push(args);
      log.apply(out, args);
    };
    let emitted;
    try {
      emitted = await run.call(this, fileNames, options);
    } finally {
      out.log = log;
    }
    if (diagnostics.length === 0) {
      // Written aside, then renamed: a suite starting at the same moment sees all of it or none.
      const scratch = `${entry}.${process.pid}.tmp`;
      fs.rmSync(scratch, { recursive: true, force: true });
      fs.mkdirSync(scratch, { recursive: true });
      const relative = emitted.map((file) => path.relative(outDir, path.resolve(dir, file)));
      for (const file of relative) {
        for (const name of [file, `${file}.map`]) {
          const from = path.join(outDir, name);
          if (!fs.existsSync(from)) continue;
          fs.mkdirSync(path.dirname(path.join(scratch, 'files', name)), { recursive: true });
          fs.copyFileSync(from, path.join(scratch, 'files', name));
        }
      }
      const absolute = emitted.length > 0 && path.isAbsolute(emitted[0]);
      fs.writeFileSync(path.join(scratch, 'emitted.json'), JSON.stringify({ absolute, files: relative }));
      try {
        fs.renameSync(scratch, entry);
      } catch {
        fs.rmSync(scratch, { recursive: true, force: true }); // another process kept it first
      }
    }
    return emitted;
  };
  return true;
}

module.exports = { installCompileCache, cacheKey };
