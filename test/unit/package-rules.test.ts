/**
 * infra/package.js: the rules that keep ESM duplicates, browser builds and browser-only
 * packages out of the zip, over a made-up node_modules shaped like today's dependencies
 * (test/deploy/template.test.ts checks the real zip with the same rules).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const rules = require('../../infra/package.js') as {
  packageFindings(root: string, packages?: string[]): [string, string][];
  productionPackages(root: string): string[];
  excludedPatterns(root: string): string[];
};

let root: string;

function write(file: string, content = '') {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), content);
}

const manifest = (fields: Record<string, unknown>) => JSON.stringify(fields);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'package-rules-'));
  write(
    'package.json',
    manifest({
      dependencies: { twins: '1', universal: '1', detector: '1', '@scope/core': '1', onlyesm: '1', 'uses-nested': '1' },
      devDependencies: { devtool: '1' },
    }),
  );
  // "type": "module" with a CommonJS twin beside each ES module (zod, valibot)
  write('node_modules/twins/package.json', manifest({ name: 'twins', type: 'module', main: './index.cjs' }));
  for (const file of ['index', 'v4/core/api', 'locales/en']) {
    write(`node_modules/twins/${file}.js`);
    write(`node_modules/twins/${file}.cjs`);
  }
  write('node_modules/twins/only-esm-helper.js');
  // browser and ESM builds beside the Node CommonJS one, and an .mjs (jose, tslib, lru.min)
  write(
    'node_modules/universal/package.json',
    manifest({
      name: 'universal',
      main: './dist/node/cjs/index.js',
      browser: './dist/browser/index.js',
      keywords: ['browser'],
    }),
  );
  write('node_modules/universal/dist/node/cjs/index.js');
  write('node_modules/universal/dist/node/esm/index.js');
  write('node_modules/universal/dist/browser/index.js');
  write('node_modules/universal/dist/browser/runtime/base64.js');
  write('node_modules/universal/web/index.js');
  write('node_modules/universal/lib/index.mjs');
  // made for browsers: its Node entry is its browser entry (bowser)
  write(
    'node_modules/detector/package.json',
    manifest({ name: 'detector', main: 'es5.js', browser: 'es5.js', keywords: ['browser', 'useragent'] }),
  );
  write('node_modules/detector/es5.js');
  write('node_modules/detector/src/parser.js');
  // index.browser.js / index.native.js beside index.js (@smithy/core); one without a twin stays
  write('node_modules/@scope/core/package.json', manifest({ name: '@scope/core', main: './dist-cjs/index.js' }));
  write('node_modules/@scope/core/dist-cjs/index.js');
  write('node_modules/@scope/core/dist-cjs/submodules/config/index.js');
  write('node_modules/@scope/core/dist-cjs/submodules/config/index.browser.js');
  write('node_modules/@scope/core/dist-cjs/submodules/config/index.native.js');
  write('node_modules/@scope/core/dist-cjs/lonely.browser.js');
  // a package that ships nothing but an ESM build keeps it
  write('node_modules/onlyesm/package.json', manifest({ name: 'onlyesm', type: 'module', exports: './esm/index.js' }));
  write('node_modules/onlyesm/esm/index.js');
  write('node_modules/onlyesm/esm/index.mjs');
  // the same package the same browser entry but for every runtime (no "browser" keyword)
  write(
    'node_modules/uses-nested/package.json',
    manifest({ name: 'uses-nested', main: 'index.js', browser: 'index.js', dependencies: { inner: '1' } }),
  );
  write('node_modules/uses-nested/index.js');
  write(
    'node_modules/uses-nested/node_modules/inner/package.json',
    manifest({
      name: 'inner',
      main: 'a.cjs',
      dependencies: { twins: '1' },
      peerDependencies: { peer: '1', compiler: '1' },
      // an optional peer (valibot's typescript): installed here as a dev tool, never loaded
      peerDependenciesMeta: { compiler: { optional: true } },
    }),
  );
  write('node_modules/compiler/package.json', manifest({ name: 'compiler', main: 'lib/index.js' }));
  write('node_modules/compiler/lib/index.js');
  write('node_modules/uses-nested/node_modules/inner/a.js');
  write('node_modules/uses-nested/node_modules/inner/a.cjs');
  // a peer a production package needs (npm installs it at the top)
  write('node_modules/peer/package.json', manifest({ name: 'peer', main: 'index.js' }));
  write('node_modules/peer/index.js');
  // a development tool: not a production package, whatever it ships
  write('node_modules/devtool/package.json', manifest({ name: 'devtool', main: 'index.cjs' }));
  write('node_modules/devtool/index.js');
  write('node_modules/devtool/index.cjs');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('productionPackages', () => {
  it('follows dependencies and required peers from package.json, nested node_modules first, and leaves development tools and optional peers out', () => {
    expect(rules.productionPackages(root).sort()).toEqual(
      [
        'node_modules/@scope/core',
        'node_modules/detector',
        'node_modules/onlyesm',
        'node_modules/peer',
        'node_modules/twins',
        'node_modules/universal',
        'node_modules/uses-nested',
        'node_modules/uses-nested/node_modules/inner',
      ].sort(),
    );
  });
});

describe('packageFindings', () => {
  let findings: Map<string, string>;
  beforeAll(() => {
    findings = new Map(rules.packageFindings(root, rules.productionPackages(root)));
  });

  it('finds each ES module that has a CommonJS .cjs twin, and keeps the .cjs and an ES module without one', () => {
    for (const file of ['index', 'v4/core/api', 'locales/en']) {
      expect(findings.get(`node_modules/twins/${file}.js`)).toBe('esm-twin');
      expect(findings.has(`node_modules/twins/${file}.cjs`)).toBe(false);
    }
    expect(findings.has('node_modules/twins/only-esm-helper.js')).toBe(false);
    expect(findings.get('node_modules/uses-nested/node_modules/inner/a.js')).toBe('esm-twin');
  });

  it('finds browser, esm and web build folders and .mjs files beside a Node CommonJS build, and keeps that build', () => {
    for (const file of [
      'dist/node/esm/index.js',
      'dist/browser/index.js',
      'dist/browser/runtime/base64.js',
      'web/index.js',
    ]) {
      expect(findings.get(`node_modules/universal/${file}`)).toBe('other-build-folder');
    }
    expect(findings.get('node_modules/universal/lib/index.mjs')).toBe('mjs');
    expect(findings.has('node_modules/universal/dist/node/cjs/index.js')).toBe(false);
  });

  it('finds .browser.js and .native.js files beside their Node file, not one without a twin', () => {
    const config = 'node_modules/@scope/core/dist-cjs/submodules/config';
    expect(findings.get(`${config}/index.browser.js`)).toBe('other-runtime-file');
    expect(findings.get(`${config}/index.native.js`)).toBe('other-runtime-file');
    expect(findings.has(`${config}/index.js`)).toBe(false);
    expect(findings.has('node_modules/@scope/core/dist-cjs/lonely.browser.js')).toBe(false);
  });

  it('finds every file of a package made for browsers only, and none of one whose browser entry serves every runtime', () => {
    for (const file of ['package.json', 'es5.js', 'src/parser.js']) {
      expect(findings.get(`node_modules/detector/${file}`)).toBe('browser-only');
    }
    expect([...findings.keys()].filter((file) => file.startsWith('node_modules/uses-nested/index'))).toEqual([]);
  });

  it('keeps the only build a package has, even an ESM one in an esm folder', () => {
    expect([...findings.keys()].filter((file) => file.startsWith('node_modules/onlyesm/'))).toEqual([]);
  });

  it('looks at production packages only when told which they are, and at every installed one otherwise', () => {
    expect([...findings.keys()].filter((file) => file.startsWith('node_modules/devtool/'))).toEqual([]);
    expect(new Map(rules.packageFindings(root)).get('node_modules/devtool/index.js')).toBe('esm-twin');
  });
});

describe('excludedPatterns', () => {
  it('leaves out npm’s record, client/ and web/, and each finding, by folder or extension where all of it goes', () => {
    const patterns = rules.excludedPatterns(root);
    expect(patterns).toEqual(
      expect.arrayContaining([
        '!node_modules/.package-lock.json',
        '!client/**',
        '!web/**',
        '!node_modules/detector/**',
        '!node_modules/universal/dist/browser/**',
        '!node_modules/universal/dist/node/esm/**',
        '!node_modules/universal/web/**',
        '!node_modules/universal/lib/**',
        '!node_modules/twins/v4/core/*.js',
        '!node_modules/twins/locales/*.js',
        '!node_modules/twins/index.js',
        '!node_modules/uses-nested/node_modules/inner/*.js',
        '!node_modules/@scope/core/dist-cjs/submodules/config/index.browser.js',
        // npm ls --prod lists an installed optional peer, so the framework would zip it
        '!node_modules/compiler/**',
      ]),
    );
    // Nothing that stays: the kept builds, the ES module without a twin, the development tool.
    const excluded = patterns.join('\n');
    for (const kept of ['universal/dist/node/cjs', 'only-esm-helper', 'onlyesm', 'devtool', '.cjs', 'lonely']) {
      expect({ kept, excluded: excluded.includes(kept) }).toEqual({ kept, excluded: false });
    }
  });
});
