/**
 * What a user's name (a token's `sub`) may be: one user, one name. A name that only looks like
 * another (`"alice "`, `"alice\u200b"`, a decomposed `e\u0301`) would be a second user who reads
 * as the first, and a lone surrogate has no UTF-8 form (the store would keep U+FFFD, so two names
 * would meet in one). The authorizer refuses such a `sub`, and the protocol a `user` target that
 * names one, since no connection can have it.
 *
 * No import: the authorizer and the message path both load this module.
 */

/** The `subject` column holds 255 characters; a longer `sub` could not be stored. */
export const MAX_SUBJECT_LENGTH = 255;

/**
 * Half of a UTF-16 surrogate pair with no other half (`"\ud800"` in JSON). In Unicode mode
 * `\p{Cs}` matches only unpaired halves: `!subject.isWellFormed()` on ES2024, which our ES2022
 * target does not type.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Control and format characters (Unicode Cc, Cf: U+0000-U+001F, U+200B, U+FEFF, bidi
 * overrides...): invisible or reordering, so `alice\u200b` would pass for alice in every list.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}]/u;

/** Why `name` cannot be a user's name, as the end of a sentence ("… starts or ends with white space"); undefined when it can. */
export function subjectProblem(name: string): string | undefined {
  if (name.trim() === '') return 'is empty';
  if (name.length > MAX_SUBJECT_LENGTH) return `is longer than ${MAX_SUBJECT_LENGTH} characters`;
  if (LONE_SURROGATE.test(name)) return 'is not well-formed Unicode (it has a lone surrogate)';
  if (name.trim() !== name) return 'starts or ends with white space';
  if (INVISIBLE.test(name)) return 'has a control or format character (Unicode Cc/Cf)';
  if (name.normalize('NFC') !== name) return 'is not in Unicode normalization form C (NFC)';
  return undefined;
}
