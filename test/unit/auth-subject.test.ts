/**
 * A token's `sub` must be well-formed Unicode: a lone surrogate has no UTF-8 form, so
 * replies would carry it as "\ud800" while the store keeps a replacement character, and
 * one user would appear under two names. Subjects that only look like another (white space
 * around it, invisible control or format characters, another normalization form) would be
 * a second user who reads as the first. All are refused at the authorizer.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { MAX_SUBJECT_LENGTH, authorizeConnect, verifyToken } from '../../src/auth/token';
import { hs256Settings, nowSec, refusal, sign } from '../support/harnesses/tokens';

const settings = hs256Settings;

/** A token for `sub`, valid for a minute. */
const tokenFor = (sub: string): Promise<string> => sign({ sub, exp: nowSec() + 60 });

describe('verifyToken and the subject', () => {
  it.each([
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', '\udfff'],
    ['a lone surrogate among letters', 'ali\ud83dce'],
    ['a reversed pair', '\ude00\ud83d'],
    ['a lone surrogate at the length limit', 'a'.repeat(MAX_SUBJECT_LENGTH - 1) + '\udbff'],
    ['a trailing space', 'alice '],
    ['a leading tab', '\talice'],
    ['a trailing no-break space', 'alice\u00a0'],
    ['a zero-width space (Cf)', 'alice\u200b'],
    ['a byte-order mark (Cf)', '\ufeffalice'],
    ['a right-to-left override (Cf)', 'ali\u202ece'],
    ['control characters (Cc)', '\u0001\u001f'],
    ['a newline inside (Cc)', 'ali\nce'],
    ['a decomposed accent (not NFC)', 'Zoe\u0308'],
  ])('refuses %s as bad_subject', async (_what, sub) => {
    expect(await refusal(verifyToken(await tokenFor(sub), settings))).toBe('bad_subject');
  });

  it.each([
    ['a surrogate pair (an emoji)', 'al😀ice'],
    ['astral letters only', '𝒜𝒷𝒸'],
    ['non-ASCII letters', 'Zoë Ñandú 東京'],
    ['a space inside', 'alice smith'],
    ['an e-mail address', 'alice@example.com'],
  ])('accepts %s, unchanged', async (_what, sub) => {
    await expect(verifyToken(await tokenFor(sub), settings)).resolves.toMatchObject({ subject: sub });
  });
});

describe('authorizeConnect and the subject', () => {
  it('denies a token whose subject has a lone surrogate', async () => {
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const methodArn = 'arn:aws:execute-api:us-east-1:123456789012:abcdef/dev/$connect';
      const event = {
        type: 'REQUEST',
        methodArn,
        queryStringParameters: { token: await tokenFor('mallory\ud800') },
        requestContext: { connectionId: 'conn-1', identity: { sourceIp: '127.0.0.1' } },
      } as unknown as APIGatewayRequestAuthorizerEvent;
      const result = await authorizeConnect(event, settings);
      expect(result.principalId).toBe('anonymous');
      expect(result.policyDocument.Statement).toEqual([
        { Action: 'execute-api:Invoke', Effect: 'Deny', Resource: methodArn },
      ]);
    } finally {
      stderr.mockRestore();
    }
  });
});
