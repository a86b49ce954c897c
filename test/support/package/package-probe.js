// Run by test/support/package/unzipped.ts as `node package-probe.js <unzipped dir> <request JSON>`, in a
// fresh process started outside the repository, so that it loads the deployment package the
// way Lambda does: nothing but what the zip holds (Node resolves a package from the folders
// above the file that requires it, and none of those is the repository's). Plain JavaScript,
// so that no compiler or loader of the repository runs in it. One JSON line on stdout says
// what happened (`PROBE {...}`); the handlers' own logs go before it.
//
// request: { handlers: ["src/handler.connect", ...], unreachable: ["typescript", ...],
//            invoke?: { handler, event, remainingMs } }
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { createRequire, isBuiltin } = require('node:module');

const [dir, requestJson] = process.argv.slice(2);
const request = JSON.parse(requestJson);

/** `src/handler.connect` -> the file and the export Lambda would call. */
function handlerOf(spec) {
  const at = spec.lastIndexOf('.');
  return { file: path.join(dir, `${spec.slice(0, at)}.js`), name: spec.slice(at + 1) };
}

function failure(error) {
  return `${error && error.code ? error.code : error && error.name}: ${error && error.message}`;
}

function jsFiles(folder) {
  return fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(folder, entry.name);
    if (entry.isDirectory()) return jsFiles(file);
    return entry.name.endsWith('.js') ? [file] : [];
  });
}

/** The packages a compiled file requires, at load or on first use (`require('x')`, not `./x` or node:x). */
function packagesRequiredBy(file) {
  const found = new Set();
  for (const match of fs.readFileSync(file, 'utf8').matchAll(/\brequire\(\s*(['"])([^'"]+)\1\s*\)/g)) {
    const specifier = match[2];
    if (!specifier.startsWith('.') && !path.isAbsolute(specifier) && !isBuiltin(specifier)) found.add(specifier);
  }
  return found;
}

async function main() {
  const report = { handlers: {}, ownModules: {}, packages: {}, reachable: [] };
  for (const spec of request.handlers ?? []) {
    const { file, name } = handlerOf(spec);
    try {
      report.handlers[spec] = typeof require(file)[name];
    } catch (error) {
      report.handlers[spec] = failure(error);
    }
  }
  if (request.handlers) {
    // Our modules, those the handlers require only on first use included.
    const ours = jsFiles(path.join(dir, 'src'));
    for (const file of ours) {
      try {
        require(file);
        report.ownModules[path.relative(dir, file)] = 'loaded';
      } catch (error) {
        report.ownModules[path.relative(dir, file)] = failure(error);
      }
    }
    // Every package they require, resolved and loaded from where they require it.
    for (const file of ours) {
      const requireHere = createRequire(file);
      for (const specifier of packagesRequiredBy(file)) {
        try {
          const resolved = requireHere.resolve(specifier);
          requireHere(specifier);
          report.packages[specifier] = path.relative(dir, resolved);
        } catch (error) {
          report.packages[specifier] = failure(error);
        }
      }
    }
  }
  // What must not be found from inside the package: the repository's own tools.
  const requireFromPackage = createRequire(path.join(dir, 'package.json'));
  for (const name of request.unreachable ?? []) {
    try {
      report.reachable.push(`${name}: ${requireFromPackage.resolve(name)}`);
    } catch {
      // not found: as it should be
    }
  }
  if (request.invoke) {
    const { file, name } = handlerOf(request.invoke.handler);
    const started = Date.now();
    const context = { getRemainingTimeInMillis: () => request.invoke.remainingMs - (Date.now() - started) };
    try {
      report.result = await require(file)[name](request.invoke.event, context);
    } catch (error) {
      report.result = { error: failure(error) };
    }
  }
  process.stdout.write(`\nPROBE ${JSON.stringify(report)}\n`);
}

main().then(
  // Keep-alive sockets of the management client would hold the process open.
  () => process.exit(0),
  (error) => {
    process.stdout.write(`\nPROBE ${JSON.stringify({ crashed: failure(error) })}\n`);
    process.exit(1);
  },
);
