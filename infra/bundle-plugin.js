// The deployment package is one file: after serverless-plugin-typescript has compiled src/ into
// its .build folder (it stays the compiler), this plugin bundles the compiled handler module
// with every package it requires into src/handler.js (infra/bundle.js: esbuild, minified, the
// stack's region's RDS certificates only) and zips that file alone. Every function's handler
// (`src/handler.connect`, ...) keeps its name. Why, with the numbers of each option:
// BENCHMARKS.md "Cold start". WS_PACKAGE_BUNDLE=off packages the compiled files and the pruned
// node_modules as before (infra/package.js), for the bench's before/after comparison only.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { bundle } = require('./bundle');

/** The one file the zip holds: where the handlers' `src/handler` points. */
const BUNDLE_FILE = 'src/handler.js';

class BundlePlugin {
  constructor(serverless) {
    this.serverless = serverless;
    const run = () => this.bundle();
    this.hooks = {
      'before:package:createDeploymentArtifacts': run,
      'before:deploy:function:packageFunction': run,
    };
  }

  async bundle() {
    if (process.env.WS_PACKAGE_BUNDLE === 'off') return;
    // serverless-plugin-typescript has switched the service path to its build folder by now.
    const build = this.serverless.config.servicePath;
    const compiled = path.join(build, BUNDLE_FILE);
    if (!fs.existsSync(compiled))
      throw new Error(
        `bundle: ${compiled} was not compiled (is serverless-plugin-typescript listed before this plugin?)`,
      );
    const handlers = Object.values(this.serverless.service.functions ?? {}).map((fn) => fn.handler);
    const foreign = handlers.filter((handler) => typeof handler === 'string' && !handler.startsWith('src/handler.'));
    if (foreign.length > 0)
      throw new Error(`bundle: every handler must be in ${BUNDLE_FILE}, not ${foreign.join(', ')}`);
    const outfile = path.join(build, '.bundle', BUNDLE_FILE);
    await bundle({ entry: compiled, outfile, region: this.serverless.getProvider('aws').getRegion() });
    fs.copyFileSync(outfile, compiled);
    fs.rmSync(path.join(build, '.bundle'), { recursive: true, force: true });
    this.serverless.service.package.patterns = ['!**', BUNDLE_FILE];
  }
}

module.exports = BundlePlugin;
module.exports.BUNDLE_FILE = BUNDLE_FILE;
