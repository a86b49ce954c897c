// Resolves `${file(./settings.js)}` in serverless.yml: the settings of .env.yml, or of
// .env.yml.example when there is none (so `npm start` works on a fresh clone). A deploy
// refuses to run without a real .env.yml and password.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const yaml = require('js-yaml');

module.exports = async () => {
  const own = path.join(__dirname, '.env.yml');
  const example = path.join(__dirname, '.env.yml.example');
  const file = fs.existsSync(own) ? own : example;
  const settings = yaml.load(fs.readFileSync(file, 'utf8')) || {};
  const deploying = process.argv.slice(2).some((arg) => arg === 'deploy');
  if (deploying) {
    if (file === example) throw new Error('No .env.yml: run `cp .env.yml.example .env.yml` and set DB_PASSWORD first.');
    if (!settings.DB_PASSWORD || settings.DB_PASSWORD === 'CHANGE-ME') {
      throw new Error('.env.yml: set DB_PASSWORD to a real password before deploying.');
    }
  }
  return settings;
};
