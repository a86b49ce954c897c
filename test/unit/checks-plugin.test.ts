/**
 * infra/checks-plugin.js: the settings checks `sls deploy` and `sls package` run before
 * packaging, and that `sls offline` (npm start) skips. The packaging itself is in
 * test/deploy/sls-checks.test.ts; here the hook is called as the framework would call it.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const SettingsChecks = require('../../infra/checks-plugin.js') as new (serverless: unknown) => {
  hooks: Record<string, () => void>;
};

class FrameworkError extends Error {}

function framework(commands: string[], settings: Record<string, unknown>) {
  return {
    processedInput: { commands },
    serviceDir: __dirname,
    classes: { Error: FrameworkError },
    service: {
      service: 'aws-node-websockets',
      provider: { stage: 'dev', region: 'eu-west-1' },
      functions: { connect: {}, disconnect: {} },
      custom: { settings },
    },
  };
}

const hook = (commands: string[], settings: Record<string, unknown>) => () =>
  new SettingsChecks(framework(commands, settings)).hooks['before:package:initialize']!();

describe('the settings-checks plugin', () => {
  it('refuses a wrong setting before packaging, one line a problem', () => {
    expect(hook(['package'], { DB_ALLOWED_CIDR: '1.2.3.4/8' })).toThrow(
      'package: nothing was built or sent to AWS; fix this first:\n  - DB_ALLOWED_CIDR "1.2.3.4/8" has host bits set',
    );
    expect(hook(['package'], { DB_ALLOWED_CIDR: '1.2.3.4/8' })).toThrow(FrameworkError);
  });

  it('lets right settings through', () => {
    expect(hook(['package'], { DB_ALLOWED_CIDR: '0.0.0.0/0', DB_INSTANCE_CLASS: 'db.t4g.micro' })).not.toThrow();
  });

  it('skips the checks, which are about AWS, under serverless offline', () => {
    expect(hook(['offline', 'start'], { DB_ALLOWED_CIDR: '1.2.3.4/8' })).not.toThrow();
  });
});
