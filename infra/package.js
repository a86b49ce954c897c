// What the deployment zip leaves out of the production dependencies, found by rules over every
// package rather than by package names, so that the rules keep holding as dependencies change
//. Lambda runs our CommonJS build on Node: it `require`s each package's Node
// CommonJS entry, so a package's ES-module copy of that build, its browser or React Native
// build, and a package made only for browsers are never loaded there.
//
// | rule               | what it leaves out                                       | e.g. (Nov 2026)                  |
// | ------------------ | -------------------------------------------------------- | -------------------------------- |
// | esm-twin           | `x.js` beside `x.cjs` (a "type": "module" package's ESM) | zod's .js, valibot's dist/*.js   |
// | mjs                | `*.mjs`, the ESM build beside a CommonJS one             | tslib.es6.mjs, lru.min           |
// | other-build-folder | a `browser`, `esm`, `dist-es` or `web` folder            | jose's dist/browser, dist/node/esm |
// | other-runtime-file | `x.browser.js` or `x.native.js` beside `x.js`            | @smithy/core's submodules        |
// | browser-only       | a package whose Node entry is its browser entry, made    | bowser (the SDK's browser user   |
// |                    | for browsers (keyword "browser")                         | agent only)                      |
// | optional peer      | an installed optional peer no production package needs   | valibot's typescript             |
//
// The first four leave a package's files out only while it keeps a CommonJS `.js`/`.cjs` file
// of its own (a package shipping only an ESM build keeps it). The shipped zip is one bundle
// (infra/bundle-plugin.js); these rules make the zip of WS_PACKAGE_BUNDLE=off, the package as
// it was, which the bench times beside it (test/unit/package-rules.test.ts checks the rules).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const OTHER_BUILD_FOLDERS = new Set(['browser', 'esm', 'dist-es', 'web']);
const OTHER_RUNTIME_FILE = /^(.+)\.(?:browser|native)\.(c?js)$/;

/** Files of a package, relative to it with `/`, without the packages nested in its node_modules. */
function filesOf(dir, prefix = '') {
  const files = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') files.push(...filesOf(dir, relative));
    } else {
      files.push(relative);
    }
  }
  return files;
}

function readManifest(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

const sameFile = (a, b) =>
  path.posix.normalize(a).replace(/\.js$/, '') === path.posix.normalize(b).replace(/\.js$/, '');

function isBrowserOnly(manifest) {
  return (
    typeof manifest.browser === 'string' &&
    sameFile(manifest.browser, manifest.main ?? 'index.js') &&
    Array.isArray(manifest.keywords) &&
    manifest.keywords.includes('browser')
  );
}

/** The rule each file of one package breaks, by its path inside the package. */
function findingsOfPackage(dir) {
  const manifest = readManifest(dir);
  const files = filesOf(dir);
  const found = new Map();
  if (manifest === undefined) return found;
  if (isBrowserOnly(manifest)) {
    for (const file of files) found.set(file, 'browser-only');
    return found;
  }
  const present = new Set(files);
  for (const file of files) {
    const folders = file.split('/').slice(0, -1);
    const name = path.posix.basename(file);
    const twin = OTHER_RUNTIME_FILE.exec(name);
    if (folders.some((folder) => OTHER_BUILD_FOLDERS.has(folder))) found.set(file, 'other-build-folder');
    else if (name.endsWith('.mjs')) found.set(file, 'mjs');
    else if (file.endsWith('.js') && present.has(`${file.slice(0, -3)}.cjs`)) found.set(file, 'esm-twin');
    else if (twin && present.has(path.posix.join(path.posix.dirname(file), `${twin[1]}.${twin[2]}`))) {
      found.set(file, 'other-runtime-file');
    }
  }
  // Only what a kept CommonJS build makes redundant.
  const keepsCommonJs = files.some((file) => /\.c?js$/.test(file) && !found.has(file));
  return keepsCommonJs ? found : new Map();
}

/** Every package folder under `root`/node_modules (nested ones too), relative to `root`. */
function installedPackages(root, under = 'node_modules') {
  const folders = [];
  const add = (folder) => {
    if (fs.existsSync(path.join(root, folder, 'package.json'))) {
      folders.push(folder, ...installedPackages(root, `${folder}/node_modules`));
    }
  };
  for (const name of subfolders(path.join(root, under))) {
    if (name.startsWith('@'))
      for (const inner of subfolders(path.join(root, under, name))) add(`${under}/${name}/${inner}`);
    else add(`${under}/${name}`);
  }
  return folders;
}

function subfolders(dir) {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** The package folders `dependencies` reach from the service's package.json, as Node resolves them. */
function productionPackages(root) {
  return walkProduction(root).packages;
}

/**
 * The walk behind productionPackages, which also collects the optional peers it did not
 * follow: `npm ls --prod` (what the framework zips) lists an optional peer that happens to be
 * installed, e.g. valibot's optional `typescript`, which nothing of ours loads.
 */
function walkProduction(root) {
  const seen = new Set();
  const optionalPeers = new Set();
  const queue = [''];
  while (queue.length > 0) {
    const from = queue.shift();
    const manifest = readManifest(path.join(root, from));
    const peers = Object.keys(manifest?.peerDependencies ?? {});
    const isOptional = (name) => manifest?.peerDependenciesMeta?.[name]?.optional === true;
    for (const name of peers.filter(isOptional)) optionalPeers.add(name);
    const names = [
      ...Object.keys({ ...manifest?.dependencies, ...manifest?.optionalDependencies }),
      // npm installs a package's required peers too (the service itself has none)
      ...peers.filter((name) => !isOptional(name)),
    ];
    for (const name of names) {
      // node_modules of `from`, then of each folder above it, up to the service.
      let at = from;
      for (;;) {
        const candidate = at === '' ? `node_modules/${name}` : `${at}/node_modules/${name}`;
        if (fs.existsSync(path.join(root, candidate, 'package.json'))) {
          if (!seen.has(candidate)) {
            seen.add(candidate);
            queue.push(candidate);
          }
          break;
        }
        if (at === '') break;
        // node_modules/a/node_modules/b -> node_modules/a -> the service
        const parent = at.lastIndexOf('/node_modules/');
        at = parent < 0 ? '' : at.slice(0, parent);
      }
    }
  }
  const packages = [...seen];
  const unneeded = [...optionalPeers]
    .map((name) => `node_modules/${name}`)
    .filter((folder) => !seen.has(folder) && fs.existsSync(path.join(root, folder, 'package.json')));
  return { packages, unneeded };
}

/** What breaks a rule among `packages` (folders relative to `root`): [path relative to root, rule]. */
function packageFindings(root, packages = installedPackages(root)) {
  const findings = [];
  for (const folder of packages) {
    for (const [file, rule] of findingsOfPackage(path.join(root, folder))) findings.push([`${folder}/${file}`, rule]);
  }
  return findings;
}

/**
 * Exclusion patterns for the findings: a folder whose files all go becomes `!folder/**`, and a
 * folder whose files of one extension all go `!folder/*.ext`, so that the list stays short.
 */
function patternsFor(root, findings) {
  const gone = new Set(findings.map(([file]) => file));
  const patterns = [];
  const visit = (folder) => {
    const entries = fs.readdirSync(path.join(root, folder), { withFileTypes: true });
    const files = [];
    let all = true;
    const below = [];
    for (const entry of entries) {
      const relative = `${folder}/${entry.name}`;
      if (entry.isDirectory()) {
        if (entry.name === 'node_modules') {
          all = false;
          continue;
        }
        const inner = visit(relative);
        all &&= inner.all;
        below.push(inner);
      } else {
        files.push(relative);
        all &&= gone.has(relative);
      }
    }
    if (all) return { all: true, patterns: [`!${folder}/**`] };
    const own = [];
    const byExtension = new Map();
    for (const file of files) {
      const extension = path.posix.extname(file);
      const group = byExtension.get(extension) ?? [];
      group.push(file);
      byExtension.set(extension, group);
    }
    for (const [extension, group] of byExtension) {
      const goneHere = group.filter((file) => gone.has(file));
      if (goneHere.length === 0) continue;
      if (goneHere.length === group.length && extension !== '') own.push(`!${folder}/*${extension}`);
      else own.push(...goneHere.map((file) => `!${file}`));
    }
    return { all: false, patterns: [...own, ...below.flatMap((inner) => inner.patterns)] };
  };
  const folders = [...new Set(findings.map(([file]) => packageOf(file)))];
  for (const folder of folders) patterns.push(...visit(folder).patterns);
  return patterns;
}

/** The package folder a path in node_modules belongs to (the innermost). */
function packageOf(file) {
  const parts = file.split('/');
  const at = parts.lastIndexOf('node_modules');
  return parts.slice(0, at + (parts[at + 1]?.startsWith('@') ? 3 : 2)).join('/');
}

/** Paths outside the packages' rules: npm's own record, the browser client, the web page. */
const NEVER_SHIPPED = ['node_modules/.package-lock.json', 'client/**', 'web/**'];

/** The exclusions for the service's production dependencies (the service folder by default). */
function excludedPatterns(root = path.resolve(__dirname, '..')) {
  const { packages, unneeded } = walkProduction(root);
  const findings = packageFindings(root, packages);
  return [
    ...NEVER_SHIPPED.map((pattern) => `!${pattern}`),
    ...unneeded.map((folder) => `!${folder}/**`),
    ...patternsFor(root, findings),
  ];
}

/**
 * `package.patterns: ${file(./infra/package.js):patterns}`: custom.packageExcludes, then the
 * exclusions above (a variable inside a list would nest its array, not join it).
 */
async function patterns({ resolveConfigurationProperty }) {
  const fixed = (await resolveConfigurationProperty(['custom', 'packageExcludes'])) ?? [];
  return [...fixed, ...excludedPatterns()];
}

module.exports = { patterns, excludedPatterns, packageFindings, installedPackages, productionPackages, NEVER_SHIPPED };
