/**
 * Whether some AWS credential source is configured, found without asking AWS: the
 * environment, the shared config and credentials files, web identity or a container.
 */
import { text } from './settings';
import type { Env } from './settings';

/** `[section]` -> key -> value of an AWS shared config or credentials file. */
export function parseIni(content: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of content.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1] as string, current);
      continue;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (pair && current) current.set((pair[1] as string).toLowerCase(), pair[2] as string);
  }
  return sections;
}

export interface CredentialInputs {
  env: Env;
  /** The user's home directory (for ~/.aws). */
  home: string;
  /** Reads a file, or undefined when there is none. */
  readFile(path: string): string | undefined;
  /** `--aws-profile` given to serverless, which wins over AWS_PROFILE. */
  profileOption?: string | undefined;
}

export interface CredentialCheck {
  /** Where the credentials would come from, when found. */
  source?: string;
  problems: string[];
}

const PROFILE_KINDS: [string[], string][] = [
  [['aws_access_key_id', 'aws_secret_access_key'], 'access keys'],
  [['sso_session'], 'IAM Identity Center (SSO)'],
  [['sso_start_url'], 'IAM Identity Center (SSO)'],
  [['role_arn'], 'an assumed role'],
  [['credential_process'], 'a credential process'],
  [['web_identity_token_file'], 'web identity'],
  [['login_session'], 'aws login'],
];

/**
 * Whether some credential source the AWS SDK (and so serverless) would use is configured:
 * environment keys, web identity, container credentials, or a profile in ~/.aws. Whether
 * the credentials are still valid only AWS can say; an EC2 instance role cannot be seen
 * without asking the instance metadata service, which this check never does.
 */
export function checkCredentials(inputs: CredentialInputs): CredentialCheck {
  const { env } = inputs;
  const id = text(env.AWS_ACCESS_KEY_ID);
  const key = text(env.AWS_SECRET_ACCESS_KEY);
  if (id !== undefined && key !== undefined) return { source: 'environment (AWS_ACCESS_KEY_ID)', problems: [] };
  if (id !== undefined || key !== undefined) {
    return {
      problems: [
        id === undefined
          ? 'AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID'
          : 'AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY',
      ],
    };
  }

  const explicit = text(inputs.profileOption) ?? text(env.AWS_PROFILE);
  const profile = explicit ?? 'default';
  const credentialsFile = text(env.AWS_SHARED_CREDENTIALS_FILE) ?? `${inputs.home}/.aws/credentials`;
  const configFile = text(env.AWS_CONFIG_FILE) ?? `${inputs.home}/.aws/config`;
  const credentials = parseIni(inputs.readFile(credentialsFile) ?? '').get(profile);
  const config = parseIni(inputs.readFile(configFile) ?? '').get(
    profile === 'default' ? 'default' : `profile ${profile}`,
  );
  if (credentials !== undefined || config !== undefined) {
    const keys = new Map([...(config ?? []), ...(credentials ?? [])]);
    const kind = PROFILE_KINDS.find(([needed]) => needed.every((name) => text(keys.get(name)) !== undefined));
    if (kind) return { source: `profile "${profile}" (${kind[1]})`, problems: [] };
    if (explicit !== undefined) {
      return {
        problems: [
          `profile "${profile}" has no credentials (no access keys, sso_session, role_arn or credential_process in ${credentialsFile} or ${configFile})`,
        ],
      };
    }
  } else if (explicit !== undefined) {
    return { problems: [`profile "${profile}" is in neither ${credentialsFile} nor ${configFile}`] };
  }

  if (text(env.AWS_WEB_IDENTITY_TOKEN_FILE) !== undefined && text(env.AWS_ROLE_ARN) !== undefined) {
    return { source: 'web identity (AWS_WEB_IDENTITY_TOKEN_FILE)', problems: [] };
  }
  if (
    text(env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) !== undefined ||
    text(env.AWS_CONTAINER_CREDENTIALS_FULL_URI) !== undefined
  ) {
    return { source: 'container credentials', problems: [] };
  }
  return {
    problems: [
      'no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws configure` ' +
        '(or `aws configure sso`); on an EC2 instance with a role, pass --skip-credential-check',
    ],
  };
}
