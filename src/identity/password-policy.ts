import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary as commonDictionary } from '@zxcvbn-ts/language-common';
import { dictionary as englishDictionary, translations } from '@zxcvbn-ts/language-en';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 128;
// zxcvbn's scale: 3 = "safely unguessable: moderate protection from offline slow-hash scenario".
const MIN_SCORE = 3;

// Dictionaries (common passwords, names, English words, keyboard patterns) ship with the package:
// nothing is fetched at run time.
const zxcvbn = new ZxcvbnFactory({
  translations,
  graphs: adjacencyGraphs,
  dictionary: { ...commonDictionary, ...englishDictionary },
});

/**
 * NIST SP 800-63B / ASVS V6 policy: a length window, no composition rules, no truncation, and a
 * refusal of common or guessable passwords (including ones built from the user's own email or
 * name). Returns null when acceptable, otherwise a reason the user can act on.
 */
export function findPasswordWeakness(password: string, personalInputs: string[] = []): string | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters; a few unrelated words make a strong password.`;
  if (length > MAX_PASSWORD_LENGTH) return `Use at most ${MAX_PASSWORD_LENGTH} characters.`;
  // Whole values and their parts: "marguerite.duras2024!" must match the local part as one token,
  // which the parts alone ("marguerite", "duras") let pass as strong.
  const inputs = personalInputs
    .map((input) => input.toLowerCase())
    .flatMap((input) => [input, input.split('@')[0]!, ...input.split(/[@.\s_-]+/)])
    .filter((part) => part.length >= 3);
  const result = zxcvbn.check(password, inputs);
  if (result.score >= MIN_SCORE) return null;
  const warning = result.feedback.warning ? `${result.feedback.warning} ` : '';
  const suggestion = result.feedback.suggestions[0] ?? 'Add another word or two; uncommon words are better.';
  return `This password is too easy to guess. ${warning}${suggestion}`.trim();
}
