// The deployment package is one file per handler module: after serverless-plugin-typescript has
// compiled src/ into its .build folder (it stays the compiler), this plugin bundles each compiled
// handler module (src/handler.js, and src/deploy/handler.js of the schema step) with every package
// it requires into that file (infra/bundle.js: esbuild, minified, the
// stack's region's RDS certificates only), the packages only some paths load into files of their
// own beside it (src/node_modules/<name>/index.js), and zips those files alone. Every function's handler
// (`src/handler.connect`, ...) keeps its name. Why, with the numbers of each option:
// BENCHMARKS.md "Cold start". WS_PACKAGE_BUNDLE=off packages the compiled files and the pruned
// node_modules as before (infra/package.js), for the bench's before/after comparison only.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { bundle } = require('./bundle');

/** The file the service's handlers (`src/handler.connect`, ...) are in, bundled first. */
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
    // Each module that holds handlers (src/handler, and the deploy step's src/deploy/handler) is
    // bundled on its own; the split packages go once into src/node_modules, found from both.
    const modules = [
      ...new Set(
        Object.values(this.serverless.service.functions ?? {})
          .map((fn) => fn.handler)
          .filter((handler) => typeof handler === 'string')
          .map((handler) => `${handler.slice(0, handler.lastIndexOf('.'))}.js`),
      ),
    ].sort((a, b) => (a === BUNDLE_FILE ? -1 : b === BUNDLE_FILE ? 1 : a.localeCompare(b)));
    const outside = modules.filter((file) => !file.startsWith('src/'));
    if (outside.length > 0) throw new Error(`bundle: every handler must be under src/, not ${outside.join(', ')}`);
    // Into a folder of its own first (the compiled src/ is the entry), then over the compiled files.
    // Only into src/: the build folder's node_modules may be a link to the service's own.
    const out = path.join(build, '.bundle');
    fs.rmSync(out, { recursive: true, force: true });
    const files = [];
    for (const [index, file] of modules.entries()) {
      const compiled = path.join(build, file);
      if (!fs.existsSync(compiled))
        throw new Error(
          `bundle: ${compiled} was not compiled (is serverless-plugin-typescript listed before this plugin?)`,
        );
      files.push(
        ...(await bundle({
          entry: compiled,
          outfile: path.join(out, file),
          region: this.serverless.getProvider('aws').getRegion(),
          splitFolder: path.join(out, 'src'),
          buildSplit: index === 0,
        })),
      );
    }
    for (const file of files) {
      if (!file.startsWith('src/')) throw new Error(`bundle: ${file} is outside src/`);
      fs.mkdirSync(path.dirname(path.join(build, file)), { recursive: true });
      fs.copyFileSync(path.join(out, file), path.join(build, file));
    }
    fs.rmSync(out, { recursive: true, force: true });
    this.serverless.service.package.patterns = ['!**', ...files];
  }
}

module.exports = BundlePlugin;
module.exports.BUNDLE_FILE = BUNDLE_FILE;
