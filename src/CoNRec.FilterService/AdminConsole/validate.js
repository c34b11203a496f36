// Client-side checks that mirror the admin API's rules. The server stays authoritative: its error message
// is shown as well. Pure functions (no DOM); the browser tests exercise them through the page.

export const SCENE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
export const MODES = ['enforce', 'shadow', 'off'];

/** @returns {string|null} a message, or null when the name is valid. */
export function validateSceneName(name) {
  if (name === '') return "'scene' is required";
  return SCENE_NAME.test(name) ? null : `'scene' = '${name}' must be 1-64 characters of letters, digits, '_', '.' or '-'`;
}

/** Parses a numeric form value in [min, max]. Empty is an error unless `optional`. */
function number(field, raw, min, max, optional) {
  const text = String(raw ?? '').trim();
  if (text === '') return optional ? { value: undefined, error: null } : { value: undefined, error: `'${field}' is required` };
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    return { value: undefined, error: `'${field}' = ${text} must be a finite number in [${min}, ${max}]` };
  }
  return { value, error: null };
}

export const parseThreshold = raw => number('threshold', raw, -1, 1, false);
export const parseGuardWeight = raw => number('guard_weight', raw, 0, 2, true);
export const parsePredictedWeight = raw => number('predicted_weight', raw, 0, 1, true);
export const parseObjectiveValue = (name, raw) => number(name, raw, 0, 1, false);

export function validateMode(mode) {
  return MODES.includes(mode) ? null : `'mode' must be one of "enforce", "shadow", "off"`;
}

/**
 * The form field a server error message is about, from the quoted name it starts with
 * ("'threshold' = 2 must be …" → "threshold"), or null for a message about the whole request.
 */
export function fieldOfServerError(message) {
  const m = /^'([a-z_.]+)/.exec(message || '');
  if (!m) return null;
  const name = m[1].split('.')[0];
  return ['scene', 'threshold', 'mode', 'guard_weight', 'predicted_weight', 'objective', 'samples', 'sample_file'].includes(name) ? name : null;
}

/** True when a change to `next` mode must be confirmed: turning enforcement on from anything else. */
export function needsEnforceConfirmation(previousMode, nextMode) {
  return nextMode === 'enforce' && previousMode !== 'enforce';
}
