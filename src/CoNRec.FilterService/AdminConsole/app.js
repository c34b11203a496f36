// CoNRec operator console: login, views (Scenes, Tuning, Generations, Audit, Health), confirmations.
// Vanilla ES modules, no build step. Runs under a strict CSP: no inline script or style, no eval.

import { api, ApiError, abortAll, clearToken, getToken, isAbort, onUnauthorized, setToken } from './api.js';
import { currentPointIndex, drawOperatingCurve, drawSparkline, legendSwatch, pointIndex } from './chart.js';
import { count, fixed1, h, num, pct, replace, timeEl } from './format.js';
import { MAX_FILE_BYTES, labelCounts, parseSampleFile } from './samples.js';
import {
  fieldOfServerError, needsEnforceConfirmation, parseGuardWeight, parseObjectiveValue, parsePredictedWeight, parseThreshold,
  validateMode, validateSceneName,
} from './validate.js';

const $ = id => document.getElementById(id);

const VIEWS = ['scenes', 'tuning', 'generations', 'audit', 'health'];
const POLL_MS = 3000;
const SPARK_POINTS = 40;
const AUDIT_PAGE = 50;
const LAST_CHANGED_SCAN = 1000;
const REFUSED = 'The token was refused (401)';

const state = {
  epoch: 0,              // bumped whenever the console is cleared; late answers from before are dropped
  shown: false,          // the console (not the login form) is on screen
  view: 'scenes',
  thresholds: null,      // last GET /thresholds
  lastChanged: new Map(),// scene -> latest audit entry (time, actor, action)
  editing: null,         // scene shown in the edit form
  parsed: null,          // uploaded samples: {name, format, samples, errors, moreErrors}
  samplesListed: false,
  objectiveTouched: false,
  tune: null,            // {scene, res, guardWeight, predictedWeight, current, objective, selected, currentIndex, recommendedIndex, chart}
  audit: { scene: '', next: null, loaded: false },
  health: { run: 0, timer: 0, rps: [], p99: [] },
  confirm: null,         // resolver of the open confirmation dialog
};

// ---------------------------------------------------------------- messages

let statusTimer = 0;
/** Announces a message in the polite live region. kind: info | success | error. */
function say(message, kind = 'info') {
  const el = $('status');
  clearTimeout(statusTimer);
  el.textContent = '';
  el.className = `status status-${kind}`;
  // Re-setting after a tick makes screen readers announce a repeated message too.
  statusTimer = setTimeout(() => { el.textContent = message; }, 30);
}

function clearStatus() {
  clearTimeout(statusTimer);
  $('status').textContent = '';
  $('status').className = 'status';
}

/** True when an error needs no message of its own: an aborted request, or a 401 (the login form says it). */
const handledElsewhere = e => isAbort(e) || (e instanceof ApiError && e.status === 401);

/** A function telling whether the console is still the one this work started for. */
function session() {
  const epoch = state.epoch;
  return () => epoch === state.epoch && state.shown;
}

// ---------------------------------------------------------------- field errors

function setFieldError(inputId, message) {
  const input = $(inputId);
  const error = $(`${inputId}-error`);
  if (error) error.textContent = message;
  if (input) input.setAttribute('aria-invalid', 'true');
}

function clearFieldErrors(root) {
  for (const el of root.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

function focusFirstInvalid(root) {
  root.querySelector('[aria-invalid="true"]')?.focus();
}

/**
 * Shows a server error inline: next to the field it names when there is one (`fields` maps the API's field
 * names to input ids), and always in the form's own error line.
 */
function showServerError(e, fields, formErrorId) {
  const field = fieldOfServerError(e.message);
  const text = e.status ? `${e.message} (${e.status})` : e.message;
  if (field && fields[field]) setFieldError(fields[field], text);
  $(formErrorId).textContent = text;
}

// ---------------------------------------------------------------- confirmation dialog

/** A modal confirmation; resolves true on Confirm, false on Cancel or Escape. */
function confirmDialog({ title, message, detail = '', confirmLabel = 'Confirm' }) {
  const dialog = $('confirm-dialog');
  if (state.confirm) state.confirm(false);
  return new Promise(resolve => {
    const opener = document.activeElement;
    $('confirm-title').textContent = title;
    $('confirm-message').textContent = message;
    $('confirm-detail').textContent = detail;
    $('confirm-detail').hidden = !detail;
    $('confirm-ok').textContent = confirmLabel;
    state.confirm = value => {
      state.confirm = null;
      if (dialog.open) dialog.close();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(value);
    };
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

function wireDialog() {
  $('confirm-ok').addEventListener('click', () => state.confirm?.(true));
  $('confirm-cancel').addEventListener('click', () => state.confirm?.(false));
  $('confirm-dialog').addEventListener('cancel', e => { e.preventDefault(); state.confirm?.(false); });
}

// ---------------------------------------------------------------- login / logout

function showOnly(section) {
  $('loading').hidden = section !== 'loading';
  $('login').hidden = section !== 'login';
  $('console').hidden = section !== 'console';
  $('session').hidden = section !== 'console';
}

function showLogin(error = '') {
  state.shown = false;
  showOnly('login');
  $('login-error').textContent = error;
  if (error) $('login-token').setAttribute('aria-invalid', 'true');
  else $('login-token').removeAttribute('aria-invalid');
  $('login-token').focus();
}

/** Any 401: forget the token, clear every view, ask for a token. */
function refused() {
  const hadToken = getToken() !== '';
  const wasShown = state.shown;
  abortAll();
  clearToken();
  clearConsole();
  let message = '';
  if (hadToken) message = REFUSED;
  else if (wasShown) message = 'The admin API now asks for a token (401)';
  else if (!$('login').hidden) return; // a second refusal of the same moment: the form already says why
  showLogin(message);
  if (message) say(message, 'error');
}

async function login(event) {
  event.preventDefault();
  const input = $('login-token');
  const token = input.value.trim();
  $('login-error').textContent = '';
  if (!token) {
    $('login-error').textContent = 'Paste the admin token first.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  setToken(token);
  $('login-submit').disabled = true;
  try {
    const thresholds = await api.thresholds();
    input.value = '';
    showConsole(thresholds);
    say('Signed in.', 'success');
  } catch (e) {
    if (isAbort(e)) return;
    if (e instanceof ApiError && e.status === 401) { input.select(); return; } // refused() has shown the message
    clearToken();
    $('login-error').textContent = `Could not sign in: ${e.message}`;
  } finally {
    $('login-submit').disabled = false;
  }
}

function logout() {
  abortAll();
  clearToken();
  clearConsole();
  showLogin('');
  say('Logged out. The token was removed from this tab.', 'info');
}

// ---------------------------------------------------------------- console shell

function showConsole(thresholds) {
  state.shown = true;
  showOnly('console');
  $('logout').hidden = getToken() === '';
  applyThresholds(thresholds);
  showView(state.view);
}

/** Empties every view so nothing from the previous session stays on screen. */
function clearConsole() {
  state.epoch++;
  state.shown = false;
  stopPolling();
  state.confirm?.(false);
  Object.assign(state, {
    thresholds: null, lastChanged: new Map(), editing: null, parsed: null, samplesListed: false,
    objectiveTouched: false, tune: null, audit: { scene: '', next: null, loaded: false },
  });
  state.health.rps = [];
  state.health.p99 = [];

  $('session-info').textContent = '';
  $('store-warning').hidden = true;
  // Scenes
  replace($('scenes-body'));
  $('scene-edit').hidden = true;
  for (const id of ['scene-edit-form', 'scene-new-form', 'tune-form', 'audit-filter-form']) {
    $(id).reset();
    clearFieldErrors($(id));
  }
  $('edit-scene-name').textContent = '';
  // Tuning
  replace($('tune-scene'));
  replace($('tune-server-file'));
  $('tune-current-threshold').textContent = '—';
  $('tune-parse-status').textContent = '';
  replace($('tune-parse-errors'));
  $('tune-parse-errors').hidden = true;
  toggleSource();
  clearTuneResult();
  // Generations
  replace($('generations-body'));
  replace($('switches-body'));
  $('generation-validation').hidden = true;
  replace($('generation-validation-checks'));
  // Audit
  replace($('audit-body'));
  replace($('audit-scene-options'));
  $('audit-older').disabled = true;
  $('audit-empty').hidden = true;
  // Health
  clearHealth();
}

function applyThresholds(thresholds) {
  state.thresholds = thresholds;
  const generation = thresholds.generation ? `generation ${thresholds.generation}` : 'no generation active';
  const mode = getToken() ? 'signed in with a token' : 'no token required (loopback-only admin)';
  $('session-info').textContent = `${generation} · ${mode}`;
  $('store-warning').hidden = thresholds.store_reachable !== false;
  renderScenes();
  fillSceneChoices();
  loadLastChanged();
}

async function refreshThresholds() {
  const live = session();
  try {
    const thresholds = await api.thresholds();
    if (live()) applyThresholds(thresholds);
  } catch (e) {
    if (!handledElsewhere(e)) say(`Could not load scenes: ${e.message}`, 'error');
  }
}

function sceneNames() {
  const names = Object.keys(state.thresholds?.scenes ?? {});
  return names.sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : a.localeCompare(b)));
}

// ---------------------------------------------------------------- tabs

function showView(view) {
  if (!VIEWS.includes(view)) view = 'scenes';
  const leaving = state.view;
  state.view = view;
  for (const v of VIEWS) {
    const tab = $(`tab-${v}`);
    const selected = v === view;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`view-${v}`).hidden = !selected;
  }
  if (leaving === 'health' && view !== 'health') stopPolling();
  if (!state.shown) return;
  if (view === 'health') startPolling();
  else if (view === 'generations') loadGenerations();
  else if (view === 'audit' && !state.audit.loaded) loadAudit(false);
  else if (view === 'tuning' && currentSource() === 'server' && !state.samplesListed) loadSampleFiles();
}

function wireTabs() {
  const tabs = VIEWS.map(v => $(`tab-${v}`));
  for (const tab of tabs) {
    tab.addEventListener('click', () => showView(tab.dataset.view));
    tab.addEventListener('keydown', e => {
      const at = tabs.indexOf(tab);
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      const next = tabs[(to + tabs.length) % tabs.length];
      next.focus();
      showView(next.dataset.view);
    });
  }
}

// ---------------------------------------------------------------- Scenes

/**
 * An audit actor ("address user-agent") made short: the address and the client's product name; the whole string is
 * the element's title.
 */
function actorEl(actor) {
  if (!actor) return document.createTextNode('—');
  const space = actor.indexOf(' ');
  if (space < 0) return document.createTextNode(actor);
  const agent = actor.slice(space + 1);
  const product = /\b(HeadlessChrome|Edg|OPR|Firefox|Chrome|Safari|curl|python-requests|Go-http-client)\/[\w.]+/.exec(agent)?.[0] ?? agent.slice(0, 24);
  return h('span', { title: actor }, actor.slice(0, space), h('span', { class: 'muted' }, ` · ${product}`));
}

function modeBadge(mode) {
  return h('span', { class: `badge badge-mode-${mode ?? 'unknown'}` }, mode ?? '—');
}

function renderScenes() {
  const scenes = state.thresholds?.scenes ?? {};
  const rows = sceneNames().map(name => {
    const s = scenes[name];
    // The audit log says who changed the scene last and how (put or tune); the scene's own record is the fallback
    // (the same transaction writes both) for entries that have left the log, and "configuration" for the built-in default.
    const audit = state.lastChanged.get(name);
    const changed = audit?.time ?? s.updated ?? null;
    const by = audit?.actor ?? s.updated_by;
    return h('tr', { dataset: { scene: name }, 'data-testid': 'scene-row' },
      h('th', { scope: 'row', class: 'mono', 'data-testid': 'scene-name' }, name),
      h('td', { class: 'num', 'data-testid': 'scene-threshold' }, num(s.threshold)),
      h('td', { 'data-testid': 'scene-mode' }, modeBadge(s.mode)),
      h('td', { class: 'num', 'data-testid': 'scene-guard-weight' }, num(s.guard_weight)),
      h('td', { class: 'num', 'data-testid': 'scene-predicted-weight' }, num(s.predicted_weight)),
      h('td', { 'data-testid': 'scene-updated' }, timeEl(changed), audit ? h('span', { class: 'muted' }, ` (${audit.action})`) : null),
      h('td', { 'data-testid': 'scene-updated-by', class: 'actor' }, actorEl(by)),
      h('td', { class: 'row-actions' },
        h('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-testid': 'scene-edit', 'aria-label': `Edit scene ${name}`, onclick: () => startEdit(name) }, 'Edit'),
        h('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-testid': 'scene-tune', 'aria-label': `Tune scene ${name}`, onclick: () => tuneScene(name) }, 'Tune')));
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No scenes.')));
  replace($('scenes-body'), rows);
}

/** "Last changed" and "by" per scene: the newest audit entry of each, from one page of the log (newest first). */
async function loadLastChanged() {
  const live = session();
  try {
    const res = await api.audit({ count: LAST_CHANGED_SCAN });
    if (!live()) return;
    const latest = new Map();
    for (const e of res.entries ?? []) if (e.scene && !latest.has(e.scene)) latest.set(e.scene, e);
    state.lastChanged = latest;
    renderScenes();
  } catch (e) {
    if (!handledElsewhere(e)) say(`Could not read the audit log for "last changed": ${e.message}`, 'error');
  }
}

function startEdit(name) {
  const s = state.thresholds?.scenes?.[name];
  if (!s) return;
  state.editing = name;
  const form = $('scene-edit-form');
  clearFieldErrors(form);
  $('edit-scene-name').textContent = name;
  $('edit-threshold').value = num(s.threshold, 6);
  $('edit-mode').value = s.mode;
  $('edit-guard-weight').value = typeof s.guard_weight === 'number' ? num(s.guard_weight, 6) : '';
  $('edit-predicted-weight').value = typeof s.predicted_weight === 'number' ? num(s.predicted_weight, 6) : '';
  $('scene-edit').hidden = false;
  $('edit-threshold').focus();
}

function cancelEdit() {
  const name = state.editing;
  state.editing = null;
  $('scene-edit').hidden = true;
  clearFieldErrors($('scene-edit-form'));
  const row = name && $('scenes-body').querySelector(`tr[data-scene="${CSS.escape(name)}"] [data-testid="scene-edit"]`);
  row?.focus();
}

/** Reads and checks a scene form; returns the PUT body or null (errors are shown). */
function readSceneForm(prefix) {
  const threshold = parseThreshold($(`${prefix}-threshold`).value);
  const guard = parseGuardWeight($(`${prefix}-guard-weight`).value);
  const predicted = parsePredictedWeight($(`${prefix}-predicted-weight`).value);
  const mode = $(`${prefix}-mode`).value;
  if (threshold.error) setFieldError(`${prefix}-threshold`, threshold.error);
  if (guard.error) setFieldError(`${prefix}-guard-weight`, guard.error);
  if (predicted.error) setFieldError(`${prefix}-predicted-weight`, predicted.error);
  const modeError = validateMode(mode);
  if (modeError) setFieldError(`${prefix}-mode`, modeError);
  if (threshold.error || guard.error || predicted.error || modeError) return null;
  const body = { threshold: threshold.value, mode };
  if (guard.value !== undefined) body.guard_weight = guard.value;
  if (predicted.value !== undefined) body.predicted_weight = predicted.value;
  return body;
}

async function saveScene({ scene, body, prefix, formId, saveId, created }) {
  const previousMode = state.thresholds?.scenes?.[scene]?.mode;
  if (needsEnforceConfirmation(previousMode, body.mode)) {
    const ok = await confirmDialog({
      title: 'Turn on enforcement?',
      message: `Scene ${scene}: mode ${previousMode ?? '(new scene)'} → enforce. Candidates scoring above ${num(body.threshold)} will be removed from results.`,
      detail: 'Shadow mode scores and counts without removing anything; enforce changes what users see.',
      confirmLabel: 'Enforce',
    });
    if (!ok) { say(`Scene ${scene} was not changed.`); return false; }
  }
  const live = session();
  $(saveId).disabled = true;
  try {
    const saved = await api.putThreshold(scene, body);
    if (!live()) return false;
    say(`Scene ${saved.scene ?? scene} ${created ? 'created' : 'saved'}: threshold ${num(saved.threshold)}, mode ${saved.mode}` +
      (typeof saved.guard_weight === 'number' ? `, guard weight ${num(saved.guard_weight)}.` : '.'), 'success');
    await refreshThresholds();
    return true;
  } catch (e) {
    if (handledElsewhere(e)) return false;
    showServerError(e, {
      scene: `${prefix}-scene-name`, threshold: `${prefix}-threshold`, mode: `${prefix}-mode`,
      guard_weight: `${prefix}-guard-weight`, predicted_weight: `${prefix}-predicted-weight`,
    }, `${prefix}-form-error`);
    focusFirstInvalid($(formId));
    say(`Not saved: ${e.message}`, 'error');
    return false;
  } finally {
    $(saveId).disabled = false;
  }
}

async function submitEdit(event) {
  event.preventDefault();
  const form = $('scene-edit-form');
  clearFieldErrors(form);
  const scene = state.editing;
  if (!scene) return;
  const body = readSceneForm('edit');
  if (!body) { focusFirstInvalid(form); return; }
  if (await saveScene({ scene, body, prefix: 'edit', formId: 'scene-edit-form', saveId: 'edit-save', created: false })) cancelEdit();
}

async function submitNew(event) {
  event.preventDefault();
  const form = $('scene-new-form');
  clearFieldErrors(form);
  const scene = $('new-scene-name').value.trim();
  const nameError = validateSceneName(scene)
    ?? (state.thresholds?.scenes?.[scene] ? `Scene '${scene}' already exists; use its Edit button.` : null);
  if (nameError) setFieldError('new-scene-name', nameError);
  const body = readSceneForm('new');
  if (nameError || !body) { focusFirstInvalid(form); return; }
  if (await saveScene({ scene, body, prefix: 'new', formId: 'scene-new-form', saveId: 'new-save', created: true })) {
    form.reset();
    $(`scenes-body`).querySelector(`tr[data-scene="${CSS.escape(scene)}"] th`)?.scrollIntoView({ block: 'nearest' });
  }
}

// ---------------------------------------------------------------- Tuning: form

function fillSceneChoices() {
  const names = sceneNames();
  const select = $('tune-scene');
  const keep = select.value;
  replace(select, names.map(n => h('option', { value: n }, n)));
  if (names.includes(keep)) select.value = keep;
  else if (names.length) { select.value = names[0]; sceneChosen(); }
  updateCurrentHint();
  replace($('audit-scene-options'), names.map(n => h('option', { value: n })));
}

function updateCurrentHint() {
  const s = state.thresholds?.scenes?.[$('tune-scene').value];
  $('tune-current-threshold').textContent = s ? `${num(s.threshold)} (${s.mode})` : '—';
}

function sceneChosen() {
  const s = state.thresholds?.scenes?.[$('tune-scene').value];
  $('tune-guard-weight').value = s && typeof s.guard_weight === 'number' ? num(s.guard_weight, 6) : '';
  $('tune-predicted-weight').value = s && typeof s.predicted_weight === 'number' ? num(s.predicted_weight, 6) : '';
  updateCurrentHint();
}

function tuneScene(name) {
  $('tune-scene').value = name;
  sceneChosen();
  showView('tuning');
  $('tab-tuning').focus();
}

const currentSource = () => (document.querySelector('input[name="source"]:checked')?.value ?? 'upload');
const currentObjective = () => (document.querySelector('input[name="objective"]:checked')?.value ?? 'max_false_reject_rate');

function toggleSource() {
  const server = currentSource() === 'server';
  $('tune-upload-fields').hidden = server;
  $('tune-server-fields').hidden = !server;
  if (server && state.shown && !state.samplesListed) loadSampleFiles();
}

function objectiveChanged() {
  // Each objective has its own sensible default until the operator types a value.
  if (!state.objectiveTouched) $('tune-objective-value').value = currentObjective() === 'min_precision' ? '0.5' : '0.05';
}

async function loadSampleFiles() {
  const live = session();
  const select = $('tune-server-file');
  $('tune-server-file-error').textContent = '';
  $('tune-server-refresh').disabled = true;
  try {
    const res = await api.sampleFiles();
    if (!live()) return;
    state.samplesListed = true;
    const keep = select.value;
    const files = res.files ?? [];
    replace(select, files.length === 0
      ? [h('option', { value: '' }, res.configured === false ? 'No sample directory is configured (Admin:SamplesDirectory)' : 'No sample files on the server')]
      : files.map(f => h('option', { value: f.name },
        `${f.name} (${count(f.bytes)} bytes${f.modified ? `, ${new Date(f.modified).toLocaleString()}` : ''})`)));
    if (files.some(f => f.name === keep)) select.value = keep;
  } catch (e) {
    if (!handledElsewhere(e)) $('tune-server-file-error').textContent = `Could not list server files: ${e.message}`;
  } finally {
    $('tune-server-refresh').disabled = false;
  }
}

async function fileChosen() {
  const input = $('tune-file');
  const status = $('tune-parse-status');
  const list = $('tune-parse-errors');
  state.parsed = null;
  replace(list);
  list.hidden = true;
  input.removeAttribute('aria-invalid');
  status.className = 'parse-status';
  const file = input.files?.[0];
  if (!file) { status.textContent = ''; return; }
  if (file.size > MAX_FILE_BYTES) {
    status.textContent = `${file.name} is ${count(file.size)} bytes, over the ${count(MAX_FILE_BYTES)}-byte request limit. Nothing will be sent.`;
    status.classList.add('parse-error');
    input.setAttribute('aria-invalid', 'true');
    return;
  }
  status.textContent = `Reading ${file.name}…`;
  const live = session();
  let text;
  try { text = await file.text(); } catch (e) {
    status.textContent = `Could not read ${file.name}: ${e.message}`;
    status.classList.add('parse-error');
    return;
  }
  if (!live() || input.files?.[0] !== file) return;
  const parsed = parseSampleFile(file.name, text);
  state.parsed = { name: file.name, ...parsed };
  const total = parsed.errors.length + parsed.moreErrors;
  if (total > 0) {
    status.textContent = `${file.name}: ${total} problem${total === 1 ? '' : 's'} found (${parsed.format.toUpperCase()}). Fix the file; nothing will be sent.`;
    status.classList.add('parse-error');
    input.setAttribute('aria-invalid', 'true');
    replace(list, parsed.errors.map(e => h('li', { 'data-line': e.line }, e.line > 0 ? `Line ${e.line}: ${e.message}` : `File: ${e.message}`)),
      parsed.moreErrors ? h('li', {}, `… and ${parsed.moreErrors} more`) : null);
    list.hidden = false;
  } else {
    const { disliked, liked } = labelCounts(parsed.samples);
    status.textContent = `${file.name}: ${count(parsed.samples.length)} samples (${parsed.format.toUpperCase()}): ${count(disliked)} disliked, ${count(liked)} liked.`;
    status.classList.add('parse-ok');
  }
}

async function computeCurve(event) {
  event.preventDefault();
  const form = $('tune-form');
  clearFieldErrors(form);
  const scene = $('tune-scene').value;
  const objectiveName = currentObjective();
  const objective = parseObjectiveValue(objectiveName, $('tune-objective-value').value);
  const guard = parseGuardWeight($('tune-guard-weight').value);
  const predicted = parsePredictedWeight($('tune-predicted-weight').value);
  if (!scene) setFieldError('tune-scene', 'Choose a scene.');
  if (objective.error) setFieldError('tune-objective-value', objective.error);
  if (guard.error) setFieldError('tune-guard-weight', guard.error);
  if (predicted.error) setFieldError('tune-predicted-weight', predicted.error);

  const body = { objective: { [objectiveName]: objective.value }, apply: false };
  if (guard.value !== undefined) body.guard_weight = guard.value;
  if (predicted.value !== undefined) body.predicted_weight = predicted.value;
  if (currentSource() === 'upload') {
    const p = state.parsed;
    if (!p) setFieldError('tune-file', 'Choose a sample file.');
    else if (p.errors.length || p.moreErrors) setFieldError('tune-file', 'The file has problems (listed below); nothing was sent.');
    else body.samples = p.samples;
  } else {
    const file = $('tune-server-file').value;
    if (!file) setFieldError('tune-server-file', 'Choose a server sample file.');
    else body.sample_file = file;
  }
  if (form.querySelector('[aria-invalid="true"]')) { focusFirstInvalid(form); return; }

  const live = session();
  const button = $('tune-compute');
  button.disabled = true;
  $('tune-result').setAttribute('aria-busy', 'true');
  say(`Computing the operating curve for ${scene}…`);
  try {
    const res = await api.tune(scene, body);
    if (!live()) return;
    const current = typeof res.current_threshold === 'number' ? res.current_threshold : state.thresholds?.scenes?.[scene]?.threshold;
    state.tune = {
      scene, res, current,
      guardWeight: typeof res.guard_weight === 'number' ? res.guard_weight : guard.value,
      predictedWeight: typeof res.predicted_weight === 'number' ? res.predicted_weight : predicted.value,
      objective: { name: objectiveName, value: objective.value },
      selected: -1, currentIndex: -1, recommendedIndex: -1, chart: null,
    };
    renderTuneResult();
    say(res.recommended ? `Curve computed: recommended threshold ${num(res.recommended.threshold)}.`
      : `Curve computed${res.problem ? `: ${res.problem}` : ''}.`, res.recommended ? 'success' : 'info');
  } catch (e) {
    if (handledElsewhere(e)) return;
    showServerError(e, {
      scene: 'tune-scene', objective: 'tune-objective-value', guard_weight: 'tune-guard-weight',
      predicted_weight: 'tune-predicted-weight', samples: 'tune-file', sample_file: 'tune-server-file',
    }, 'tune-error');
    say(`Tuning failed: ${e.message}`, 'error');
  } finally {
    button.disabled = false;
    $('tune-result').removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- Tuning: result

function clearTuneResult() {
  state.tune = null;
  $('tune-result').hidden = true;
  replace($('tune-chart'));
  $('tune-summary').textContent = '';
  $('tune-problem').hidden = true;
  $('tune-current-note').textContent = '';
  $('tune-error').textContent = '';
  renderDetails();
}

function renderTuneResult() {
  const t = state.tune;
  const r = t.res;
  const curve = r.curve ?? [];
  t.currentIndex = currentPointIndex(curve, t.current);
  t.recommendedIndex = pointIndex(curve, r.recommended);
  t.selected = t.recommendedIndex;

  const obj = t.objective.name === 'max_false_reject_rate'
    ? `max false reject rate ${pct(t.objective.value)}` : `min precision ${pct(t.objective.value)}`;
  $('tune-summary').textContent = `Scene ${t.scene}, generation ${r.generation ?? '—'}: ${count(r.samples)} samples sent, ` +
    `${count(r.scored)} scored (${count(r.disliked)} disliked, ${count(r.liked)} liked). Objective: ${obj}. ` +
    (r.recommended ? `Recommended threshold ${num(r.recommended.threshold)}.` : 'No recommendation.');
  $('tune-problem').textContent = r.problem ?? '';
  $('tune-problem').hidden = !r.problem;
  $('legend-objective').hidden = t.objective.name !== 'max_false_reject_rate';
  $('tune-current-note').textContent = typeof t.current === 'number'
    ? `(${num(t.current)}${t.currentIndex < 0 ? ': not on curve' : ''})` : '(unknown)';
  $('tune-result').hidden = false;
  drawTuneChart();
  renderDetails();
}

function drawTuneChart() {
  const t = state.tune;
  const curve = t?.res.curve ?? [];
  if (curve.length === 0) {
    t.chart = null;
    replace($('tune-chart'), h('p', { class: 'muted chart-empty' }, 'No curve to draw for these samples.'));
    return;
  }
  t.chart = drawOperatingCurve($('tune-chart'), {
    curve,
    xMax: Number($('tune-x-range').value) || 1,
    objectiveFr: t.objective.name === 'max_false_reject_rate' ? t.objective.value : null,
    currentIndex: t.currentIndex,
    recommendedIndex: t.recommendedIndex,
    selectedIndex: t.selected,
    onSelect: selectPoint,
  });
}

function selectPoint(index) {
  const t = state.tune;
  if (!t) return;
  t.selected = index;
  t.chart?.select(index);
  renderDetails();
  const p = t.res.curve[index];
  say(`Selected threshold ${num(p.threshold)}: disliked ${pct(p.disliked_reject_rate)}, liked ${pct(p.liked_reject_rate)}.`);
}

function renderDetails() {
  const t = state.tune;
  const p = t && t.selected >= 0 ? t.res.curve[t.selected] : null;
  const set = (id, text) => { $(id).textContent = text; };
  set('detail-threshold', p ? num(p.threshold) : '—');
  set('detail-disliked', p ? pct(p.disliked_reject_rate) : '—');
  set('detail-liked', p ? pct(p.liked_reject_rate) : '—');
  set('detail-precision', p ? pct(p.precision) : '—');
  set('detail-rejected', p ? count(p.rejected) : '—');
  const kinds = p ? [t.selected === t.recommendedIndex && 'recommended', t.selected === t.currentIndex && 'current'].filter(Boolean) : [];
  set('detail-kind', p ? (kinds.join(', ') || 'chosen') : 'none');
  const r = t?.res;
  set('detail-scored', r ? count(r.scored) : '—');
  set('detail-samples', r ? count(r.samples) : '—');
  set('detail-disliked-count', r ? count(r.disliked) : '—');
  set('detail-liked-count', r ? count(r.liked) : '—');
  set('detail-skipped-no-predictions', r ? count(r.skipped?.no_predictions ?? 0) : '—');
  set('detail-skipped-unknown-item', r ? count(r.skipped?.unknown_item ?? 0) : '—');
  set('detail-skipped-store-unavailable', r ? count(r.skipped?.store_unavailable ?? 0) : '—');
  set('detail-generation', r?.generation ?? '—');
  set('detail-guard-weight', t && typeof t.guardWeight === 'number' ? num(t.guardWeight) : '—');
  set('detail-predicted-weight', t && typeof t.predictedWeight === 'number' ? num(t.predictedWeight) : '—');
  set('detail-sample-file', r?.sample_file ?? (r ? 'uploaded' : '—'));
  $('tune-apply').disabled = !p;
}

async function applySelected() {
  const t = state.tune;
  if (!t || t.selected < 0) return;
  const p = t.res.curve[t.selected];
  const scene = t.scene;
  const sceneNow = state.thresholds?.scenes?.[scene];
  const from = sceneNow?.threshold ?? t.current;
  const details = [];
  if (typeof t.guardWeight === 'number' && typeof sceneNow?.guard_weight === 'number' && sceneNow.guard_weight !== t.guardWeight) {
    details.push(`Guard weight ${num(sceneNow.guard_weight)} → ${num(t.guardWeight)}.`);
  }
  if (typeof t.predictedWeight === 'number' && typeof sceneNow?.predicted_weight === 'number' && sceneNow.predicted_weight !== t.predictedWeight) {
    details.push(`Predicted weight ${num(sceneNow.predicted_weight)} → ${num(t.predictedWeight)}.`);
  }
  if (sceneNow?.mode && sceneNow.mode !== 'enforce') details.push(`The scene stays in ${sceneNow.mode} mode.`);
  const ok = await confirmDialog({
    title: 'Apply threshold?',
    message: `Scene ${scene}: threshold ${num(from)} → ${num(p.threshold)}; would reject ${pct(p.disliked_reject_rate)} of disliked and ${pct(p.liked_reject_rate)} of liked on these samples.`,
    detail: details.join(' '),
    confirmLabel: 'Apply',
  });
  if (!ok) { say('Threshold not applied.'); return; }
  const body = { threshold: p.threshold };
  if (typeof t.guardWeight === 'number') body.guard_weight = t.guardWeight;
  if (typeof t.predictedWeight === 'number') body.predicted_weight = t.predictedWeight;
  const live = session();
  $('tune-apply').disabled = true;
  $('tune-error').textContent = '';
  try {
    const saved = await api.putThreshold(scene, body);
    if (!live()) return;
    await refreshThresholds();
    if (!live() || state.tune !== t) return;
    t.current = typeof saved.threshold === 'number' ? saved.threshold : p.threshold;
    t.currentIndex = currentPointIndex(t.res.curve, t.current);
    t.chart?.setCurrent(t.currentIndex);
    $('tune-current-note').textContent = `(${num(t.current)}${t.currentIndex < 0 ? ': not on curve' : ''})`;
    renderDetails();
    say(`Scene ${scene}: threshold set to ${num(t.current)}.`, 'success');
  } catch (e) {
    if (handledElsewhere(e)) return;
    $('tune-error').textContent = `Not applied: ${e.message}${e.status ? ` (${e.status})` : ''}`;
    say(`Not applied: ${e.message}`, 'error');
  } finally {
    if (state.tune === t) $('tune-apply').disabled = t.selected < 0;
  }
}

// ---------------------------------------------------------------- Generations

async function loadGenerations() {
  const live = session();
  $('generations-refresh').disabled = true;
  try {
    const res = await api.generations();
    if (live()) renderGenerations(res);
  } catch (e) {
    if (!handledElsewhere(e)) say(`Could not load generations: ${e.message}`, 'error');
  } finally {
    $('generations-refresh').disabled = false;
  }
}

function renderGenerations(res) {
  const active = res.active ?? null;
  const rows = (res.generations ?? []).map(g => {
    const isActive = g.id === active;
    // A replaced generation is a rollback target until its grace period ends; a complete one was never published.
    const canRollBack = !isActive && (g.status === 'published' || g.status === 'retired');
    const canPublish = !isActive && g.status === 'complete';
    const hash = g.codebook_hash ?? '';
    return h('tr', { dataset: { generation: g.id, status: g.status }, 'data-testid': 'generation-row', 'aria-current': isActive ? 'true' : null, class: isActive ? 'row-active' : null },
      h('th', { scope: 'row', class: 'mono' }, g.id,
        isActive ? h('span', { class: 'badge badge-active', 'data-testid': 'generation-active' }, 'active') : null),
      h('td', {}, h('span', { class: `badge badge-status-${g.status}` }, g.status)),
      h('td', { class: 'num' }, count(g.users)),
      h('td', { class: 'num' }, count(g.items)),
      h('td', { class: 'mono' }, hash ? h('abbr', { title: hash, 'data-testid': 'generation-hash' }, hash.length > 12 ? `${hash.slice(0, 12)}…` : hash) : '—'),
      h('td', {}, timeEl(g.created)),
      h('td', {}, timeEl(g.expires_at)),
      h('td', { class: 'row-actions' }, canRollBack
        ? h('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-testid': 'generation-rollback', 'aria-label': `Roll back to generation ${g.id}`, onclick: () => rollBack(g.id, active) }, 'Roll back to this')
        : canPublish
          ? h('button', { type: 'button', class: 'btn btn-small btn-secondary', 'data-testid': 'generation-publish', 'aria-label': `Publish generation ${g.id}`, onclick: () => rollBack(g.id, active) }, 'Publish')
          : null));
  });
  if (rows.length === 0) rows.push(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No generations.')));
  replace($('generations-body'), rows);

  const switches = (res.switches ?? []).map(s =>
    h('tr', { 'data-testid': 'switch-row', dataset: { generation: s.generation, action: s.action } },
      h('td', {}, timeEl(s.time)),
      h('td', {}, h('span', { class: `badge badge-action-${s.action}` }, s.action)),
      h('td', { class: 'mono' }, s.generation),
      h('td', { class: 'mono' }, s.previous ?? '—'),
      h('td', {}, actorEl(s.actor))));
  if (switches.length === 0) switches.push(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No switches recorded.')));
  replace($('switches-body'), switches);
}

function showValidation(ok, text, validation) {
  $('generation-validation').hidden = false;
  const result = $('generation-validation-result');
  result.textContent = text;
  result.className = ok ? 'result-ok' : 'result-bad';
  const checks = validation?.checks ?? [];
  replace($('generation-validation-checks'), checks.map(c => h('li', {}, c)));
}

async function rollBack(id, active) {
  const ok = await confirmDialog({
    title: 'Roll back generation?',
    message: `Publish generation ${id} and make it the active one${active ? `, replacing ${active}` : ''}.`,
    detail: 'The filter switches to its predictions and codebook on every replica as soon as it is published.',
    confirmLabel: 'Roll back',
  });
  if (!ok) { say(`Generation ${id} was not published.`); return; }
  const live = session();
  say(`Publishing generation ${id}…`);
  try {
    const res = await api.publish(id);
    if (!live()) return;
    showValidation(true, `Generation ${res.active ?? id} is now active${res.previous ? ` (previous: ${res.previous})` : ''}.`, res.validation);
    say(`Generation ${res.active ?? id} is now active.`, 'success');
  } catch (e) {
    if (handledElsewhere(e)) return;
    showValidation(false, `Not published: ${e.message}${e.status ? ` (${e.status})` : ''}`, e.body?.validation);
    say(`Generation ${id} was not published: ${e.message}`, 'error');
  }
  if (!live()) return;
  await loadGenerations();
  await refreshThresholds();
}

// ---------------------------------------------------------------- Audit

function change(previous, current, format) {
  const now = format(current);
  if (previous === undefined || previous === null || previous === current) return now;
  return `${format(previous)} → ${now}`;
}

/** One audit entry (GET /admin/v1/audit): old_* → new_* for each setting; old_* is null for a scene's first change. */
function auditRow(e) {
  const fmtMode = m => m ?? '—';
  return h('tr', { 'data-testid': 'audit-row', dataset: { scene: e.scene ?? '', action: e.action ?? '' } },
    h('td', {}, timeEl(e.time)),
    h('td', { class: 'mono', 'data-testid': 'audit-row-scene' }, e.scene || '—'),
    h('td', {}, h('span', { class: `badge badge-action-${e.action}` }, e.action ?? '—')),
    h('td', { class: 'actor' }, actorEl(e.actor)),
    h('td', { class: 'num', 'data-testid': 'audit-threshold' }, change(e.old_threshold, e.new_threshold, num)),
    h('td', { 'data-testid': 'audit-mode' }, change(e.old_mode, e.new_mode, fmtMode)),
    h('td', { class: 'num' }, change(e.old_guard_weight, e.new_guard_weight, num)),
    h('td', { class: 'num' }, change(e.old_predicted_weight, e.new_predicted_weight, num)));
}

async function loadAudit(older) {
  const live = session();
  const before = older ? state.audit.next : undefined;
  if (older && !before) return;
  $('audit-older').disabled = true;
  $('audit-refresh').disabled = true;
  try {
    const res = await api.audit({ count: AUDIT_PAGE, scene: state.audit.scene || undefined, before });
    if (!live()) return;
    state.audit.loaded = true;
    state.audit.next = res.next ?? null;
    const rows = (res.entries ?? []).map(auditRow);
    if (older) $('audit-body').append(...rows);
    else replace($('audit-body'), rows);
    $('audit-empty').hidden = $('audit-body').rows.length > 0;
    if (older && rows.length) say(`Loaded ${rows.length} older entries.`);
  } catch (e) {
    if (!handledElsewhere(e)) say(`Could not load the audit log: ${e.message}`, 'error');
  } finally {
    $('audit-older').disabled = !state.audit.next;
    $('audit-refresh').disabled = false;
  }
}

function filterAudit(event) {
  event.preventDefault();
  clearFieldErrors($('audit-filter-form'));
  const scene = $('audit-scene').value.trim();
  const error = scene ? validateSceneName(scene) : null;
  if (error) { setFieldError('audit-scene', error); $('audit-scene').focus(); return; }
  state.audit.scene = scene;
  state.audit.next = null;
  loadAudit(false);
}

// ---------------------------------------------------------------- Health

function startPolling() {
  if (document.hidden || !state.shown || state.view !== 'health') return;
  stopPolling();
  const run = ++state.health.run;
  const tick = async () => {
    if (run !== state.health.run) return;
    await pollHealth(run);
    if (run === state.health.run) state.health.timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function stopPolling() {
  state.health.run++;
  clearTimeout(state.health.timer);
  state.health.timer = 0;
}

async function pollHealth(run) {
  const live = session();
  try {
    const res = await api.health();
    if (!live() || run !== state.health.run) return;
    const keep = arr => arr.slice(-SPARK_POINTS);
    state.health.rps = keep([...state.health.rps, res.requests_per_s]);
    state.health.p99 = keep([...state.health.p99, res.p99_ms]);
    renderHealth(res);
    $('health-error').hidden = true;
  } catch (e) {
    if (handledElsewhere(e) || !live()) return;
    $('health-error').textContent = `Health poll failed: ${e.message}${e.status ? ` (${e.status})` : ''}. Retrying every ${POLL_MS / 1000} s.`;
    $('health-error').hidden = false;
  }
}

function badge(el, text, tone) {
  el.textContent = text;
  el.className = `badge badge-${tone}`;
}

/** Milliseconds: two decimals below 10 ms, where one would round a fast p99 to nothing. */
const ms = v => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : '—');

function renderHealth(res) {
  $('health-rps').textContent = fixed1(res.requests_per_s);
  $('health-p99').textContent = ms(res.p99_ms);
  $('health-window').textContent = typeof res.window_s === 'number' ? `${res.window_s} s` : '—';
  $('health-calls').textContent = count(res.calls);
  $('health-generation').textContent = res.generation ?? 'none';
  const breaker = res.breaker ?? 'unknown';
  badge($('health-breaker'), breaker.replace('_', ' '), { closed: 'ok', half_open: 'warn', open: 'bad' }[breaker] ?? 'neutral');
  badge($('health-store'), res.store_reachable ? 'reachable' : 'unreachable', res.store_reachable ? 'ok' : 'bad');
  $('health-updated').replaceChildren(timeEl(new Date().toISOString()));

  const rejects = Object.entries(res.reject_ratio_by_scene ?? {}).sort(([a], [b]) => a.localeCompare(b));
  replace($('health-reject-body'), rejects.length
    ? rejects.map(([scene, ratio]) => h('tr', { dataset: { scene } }, h('th', { scope: 'row', class: 'mono' }, scene), h('td', { class: 'num' }, pct(ratio))))
    : h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'No traffic in the window.')));
  const reasons = Object.entries(res.fail_open_by_reason ?? {});
  replace($('health-failopen-body'), reasons.length
    ? reasons.map(([reason, rate]) => h('tr', { dataset: { reason } }, h('th', { scope: 'row' }, reason.replaceAll('_', ' ')), h('td', { class: 'num' }, fixed1(rate))))
    : h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'None.')));

  drawSparkline($('health-spark-rps'), state.health.rps, { label: 'Requests per second', format: fixed1 });
  drawSparkline($('health-spark-p99'), state.health.p99, { label: 'p99 latency in ms', format: v => `${ms(v)} ms` });
}

function clearHealth() {
  for (const id of ['health-rps', 'health-p99', 'health-window', 'health-calls', 'health-generation', 'health-updated']) $(id).textContent = '—';
  badge($('health-breaker'), '—', 'neutral');
  badge($('health-store'), '—', 'neutral');
  replace($('health-reject-body'));
  replace($('health-failopen-body'));
  replace($('health-spark-rps'));
  replace($('health-spark-p99'));
  $('health-error').hidden = true;
}

// ---------------------------------------------------------------- start

function wire() {
  wireDialog();
  wireTabs();
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('retry').addEventListener('click', start);

  $('scenes-refresh').addEventListener('click', async () => { state.lastChanged.clear(); await refreshThresholds(); say('Scenes refreshed.'); });
  $('scene-edit-form').addEventListener('submit', submitEdit);
  $('edit-cancel').addEventListener('click', cancelEdit);
  $('scene-new-form').addEventListener('submit', submitNew);

  $('tune-form').addEventListener('submit', computeCurve);
  $('tune-scene').addEventListener('change', sceneChosen);
  for (const r of document.querySelectorAll('input[name="objective"]')) r.addEventListener('change', objectiveChanged);
  $('tune-objective-value').addEventListener('input', () => { state.objectiveTouched = true; });
  for (const r of document.querySelectorAll('input[name="source"]')) r.addEventListener('change', toggleSource);
  $('tune-file').addEventListener('change', fileChosen);
  $('tune-server-refresh').addEventListener('click', loadSampleFiles);
  $('tune-x-range').addEventListener('change', () => { if (state.tune) drawTuneChart(); });
  $('tune-apply').addEventListener('click', applySelected);
  for (const li of document.querySelectorAll('.legend [data-swatch]')) li.prepend(legendSwatch(li.dataset.swatch));

  $('generations-refresh').addEventListener('click', loadGenerations);
  $('audit-filter-form').addEventListener('submit', filterAudit);
  $('audit-refresh').addEventListener('click', () => loadAudit(false));
  $('audit-older').addEventListener('click', () => loadAudit(true));

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) stopPolling();
    else if (state.shown && state.view === 'health') startPolling();
  });
  // The skip link focuses <main> without touching the URL.
  document.querySelector('.skip-link').addEventListener('click', e => { e.preventDefault(); $('main').focus(); });

  onUnauthorized(refused);
}

/** First load: try the API (with the tab's token if it has one); 200 shows the console, 401 the login form. */
async function start() {
  showOnly('loading');
  $('retry').hidden = true;
  $('loading-message').textContent = 'Connecting to the admin API…';
  clearStatus();
  try {
    const thresholds = await api.thresholds();
    showConsole(thresholds);
  } catch (e) {
    if (handledElsewhere(e)) return; // 401: refused() showed the login form
    $('loading-message').textContent = `Could not load the console: ${e.message}${e.status ? ` (${e.status})` : ''}`;
    $('retry').hidden = false;
    $('retry').focus();
  }
}

wire();
start();
