// Labelled tuning samples from an uploaded file: JSONL or CSV, parsed in the browser.
// Pure functions (no DOM). The server parses its own sample files with the same rules (SampleFiles.cs).
//
// A sample is {user_id, item_id, sid?, disliked}, the shape POST /admin/v1/thresholds/{scene}/tune takes.
// Parse errors carry 1-based line numbers; a file with any error must not be sent.

/** The server's limit on samples per tune request (AdminEndpoints.MaxTuneSamples). */
export const MAX_SAMPLES = 100_000;
/** The server's request body limit; a larger file cannot be sent whatever it holds. */
export const MAX_FILE_BYTES = 32 * 1024 * 1024;
/** Errors kept per parse; the rest are counted in `moreErrors`. */
export const MAX_REPORTED_ERRORS = 100;

const MAX_CODE = 0xffff_ffff;

/** Sid codes: non-negative 32-bit integers. Returns the codes or a message. */
function checkCodes(codes) {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > MAX_CODE) {
      return `'sid[${i}]' must be a non-negative integer (got ${JSON.stringify(c)})`;
    }
  }
  return null;
}

class ErrorList {
  constructor() { this.errors = []; this.more = 0; }
  add(line, message) {
    if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push({ line, message });
    else this.more++;
  }
  get count() { return this.errors.length + this.more; }
}

function result(samples, errs, format) {
  if (samples.length === 0 && errs.count === 0) errs.add(0, 'the file holds no samples');
  if (samples.length > MAX_SAMPLES) errs.add(0, `the file holds ${samples.length} samples; at most ${MAX_SAMPLES} can be sent`);
  return { format, samples, errors: errs.errors, moreErrors: errs.more };
}

function stripBom(text) {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * JSON Lines: one object per line, {"user_id": "u1", "item_id": "i9", "sid": [1, 2, 3], "disliked": true}.
 * Blank lines are skipped. `sid` is optional (absent or null).
 * @returns {{format: 'jsonl', samples: object[], errors: {line: number, message: string}[], moreErrors: number}}
 */
export function parseJsonl(text) {
  const errs = new ErrorList();
  const samples = [];
  const lines = stripBom(text).split(/\r\n|\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i].trim();
    if (raw === '') continue;
    let value;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      errs.add(line, `not valid JSON (${e.message})`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      errs.add(line, 'must be a JSON object');
      continue;
    }
    const problem = checkSampleObject(value);
    if (problem) { errs.add(line, problem); continue; }
    const sample = { user_id: value.user_id, item_id: value.item_id, disliked: value.disliked };
    if (value.sid !== undefined && value.sid !== null) sample.sid = value.sid.slice();
    samples.push(sample);
  }
  return result(samples, errs, 'jsonl');
}

function checkSampleObject(v) {
  for (const field of ['user_id', 'item_id']) {
    if (typeof v[field] !== 'string' || v[field] === '') return `'${field}' is required and must be a non-empty string`;
  }
  if (typeof v.disliked !== 'boolean') return "'disliked' is required and must be true or false";
  if (v.sid !== undefined && v.sid !== null) {
    if (!Array.isArray(v.sid)) return "'sid' must be an array of codes";
    const codeProblem = checkCodes(v.sid);
    if (codeProblem) return codeProblem;
  }
  return null;
}

/**
 * Splits CSV text into records (RFC 4180: quoted fields, "" escapes, quoted line breaks; CRLF, LF or CR).
 * Each record carries the 1-based line it starts on. Exported for tests.
 * @returns {{records: {line: number, fields: string[]}[], error: {line: number, message: string} | null}}
 */
export function splitCsv(text) {
  const records = [];
  let fields = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let quoteLine = 0;
  let fieldStarted = false; // something (even "") was read for the current field
  const s = stripBom(text);
  const endRecord = () => {
    fields.push(field);
    // A line with nothing on it is not a record.
    if (!(fields.length === 1 && fields[0].trim() === '' && !fieldStarted)) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') { field += '"'; i++; } else quoted = false;
      } else {
        if (c === '\n' || (c === '\r' && s[i + 1] !== '\n')) line++;
        field += c;
      }
      continue;
    }
    if (c === '"') {
      if (field.trim() !== '') return { records, error: { line, message: 'a quote inside an unquoted field' } };
      field = '';
      quoted = true;
      quoteLine = line;
      fieldStarted = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += c;
      if (c.trim() !== '') fieldStarted = true;
    }
  }
  if (quoted) return { records, error: { line: quoteLine, message: 'a quoted field is not closed' } };
  endRecord();
  return { records, error: null };
}

/** Sid in a CSV cell: codes separated by spaces, '|' or ';' (e.g. "12 7 301" or "12|7|301"). Empty = no sid. */
export function parseSidCell(cell) {
  const trimmed = cell.trim();
  if (trimmed === '') return { sid: undefined, error: null };
  const parts = trimmed.split(/[\s|;]+/);
  const codes = [];
  for (let i = 0; i < parts.length; i++) {
    if (!/^\d+$/.test(parts[i])) return { sid: undefined, error: `'sid' code ${i + 1} = '${parts[i]}' is not a non-negative integer` };
    const code = Number(parts[i]);
    if (code > MAX_CODE) return { sid: undefined, error: `'sid' code ${i + 1} = ${parts[i]} is larger than ${MAX_CODE}` };
    codes.push(code);
  }
  return { sid: codes, error: null };
}

/** disliked in a CSV cell: true/false/1/0, any case. */
export function parseBoolCell(cell) {
  const v = cell.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return null;
}

/**
 * CSV with a header row naming user_id, item_id and disliked (any order, any case), and optionally sid.
 * Other columns are ignored. disliked is true/false/1/0; sid is codes separated by spaces, '|' or ';'.
 * @returns {{format: 'csv', samples: object[], errors: {line: number, message: string}[], moreErrors: number}}
 */
export function parseCsv(text) {
  const errs = new ErrorList();
  const samples = [];
  const { records, error } = splitCsv(text);
  if (records.length === 0) {
    if (error) errs.add(error.line, error.message);
    return result(samples, errs, 'csv');
  }
  const header = records[0].fields.map(h => h.trim().toLowerCase());
  const col = name => header.indexOf(name);
  const idx = { user_id: col('user_id'), item_id: col('item_id'), disliked: col('disliked'), sid: col('sid') };
  const missing = ['user_id', 'item_id', 'disliked'].filter(n => idx[n] < 0);
  if (missing.length > 0) {
    errs.add(records[0].line, `the header row must name user_id, item_id and disliked (optionally sid); missing ${missing.join(', ')}`);
    return { format: 'csv', samples, errors: errs.errors, moreErrors: errs.more };
  }
  for (const { line, fields } of records.slice(1)) {
    const cell = name => (idx[name] >= 0 && idx[name] < fields.length ? fields[idx[name]] : undefined);
    const user = cell('user_id');
    const item = cell('item_id');
    const dislikedCell = cell('disliked');
    if (user === undefined || item === undefined || dislikedCell === undefined) {
      errs.add(line, `has ${fields.length} fields; the header has ${header.length}`);
      continue;
    }
    if (user.trim() === '') { errs.add(line, "'user_id' is empty"); continue; }
    if (item.trim() === '') { errs.add(line, "'item_id' is empty"); continue; }
    const disliked = parseBoolCell(dislikedCell);
    if (disliked === null) { errs.add(line, `'disliked' = '${dislikedCell.trim()}' must be true, false, 1 or 0`); continue; }
    const sample = { user_id: user.trim(), item_id: item.trim(), disliked };
    const sidCell = cell('sid');
    if (sidCell !== undefined) {
      const { sid, error: sidError } = parseSidCell(sidCell);
      if (sidError) { errs.add(line, sidError); continue; }
      if (sid) sample.sid = sid;
    }
    samples.push(sample);
  }
  if (error) errs.add(error.line, error.message);
  return result(samples, errs, 'csv');
}

/**
 * Parses an uploaded file by its extension (.jsonl/.ndjson → JSONL, .csv → CSV); otherwise by its content
 * (a first non-blank character of '{' means JSONL).
 */
export function parseSampleFile(name, text) {
  const lower = (name || '').toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return parseJsonl(text);
  if (lower.endsWith('.csv')) return parseCsv(text);
  return stripBom(text).trimStart().startsWith('{') ? parseJsonl(text) : parseCsv(text);
}

/** Counts of disliked and liked samples, for the summary shown before sending. */
export function labelCounts(samples) {
  let disliked = 0;
  for (const s of samples) if (s.disliked) disliked++;
  return { disliked, liked: samples.length - disliked };
}
