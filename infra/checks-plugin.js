// `sls deploy` and `sls package` from a clone run the settings checks of `npm run deploy`
// (scripts/deploy/checks.ts) before the framework builds anything: a wrong setting stops
// them with one line per problem, before any zip is built or anything is sent to AWS.
// `npm run deploy` runs them first too, with its credential check (this plugin has none:
// credentials are the framework's business). `sls offline` (npm start) never packages, and
// the checks are skipped should it ever do: they are about AWS (regions, instance classes).
// A key of .env.yml that is no setting never gets here: settings.js refuses it while the
// framework resolves serverless.yml, which comes before any hook, offline's included.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { NO_ENV_FILE } = require('../settings');

const CHECKS = path.join(__dirname, '..', 'scripts', 'deploy', 'checks.ts');

/**
 * The checks are TypeScript shared with scripts/deploy.ts. Where TypeScript already loads
 * (jest, tsx) they are required as they are; under the framework's plain Node, tsx (a dev
 * dependency, as the framework itself is) compiles them. Node fails to parse TypeScript with a
 * SyntaxError before running any of it.
 */
function loadChecks() {
  try {
    return require(CHECKS);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  return require('tsx/cjs/api').require(CHECKS, path.join(__dirname, 'checks-plugin.js'));
}

class SettingsChecks {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options ?? {};
    this.hooks = { 'before:package:initialize': () => this.check() };
  }

  /** The commands of this run: [deploy], [package], [offline, start]. */
  commands() {
    return this.serverless.processedInput?.commands ?? [];
  }

  check() {
    const commands = this.commands();
    if (commands.includes('offline')) return;
    const checks = loadChecks();
    const { service, provider } = this.serverless.service;
    const settings = this.serverless.service.custom?.settings ?? {};
    const problems = [];
    const root = this.serverless.serviceDir ?? process.cwd();
    if (commands[0] === 'deploy' && !fs.existsSync(path.join(root, '.env.yml'))) {
      problems.push(NO_ENV_FILE);
    }
    const shape = { service, functionNames: Object.keys(this.serverless.service.functions ?? {}) };
    problems.push(...checks.checkTarget({ stage: provider.stage, region: provider.region }, shape));
    problems.push(...checks.checkSettings(settings));
    if (problems.length === 0) return;
    throw new this.serverless.classes.Error(
      `${commands.join(' ')}: nothing was built or sent to AWS; fix ${problems.length === 1 ? 'this' : 'these'} first:\n` +
        problems.map((problem) => `  - ${problem}`).join('\n'),
    );
  }
}

module.exports = SettingsChecks;
