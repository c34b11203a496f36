// Unit tests for the console's pure modules. Run: node --test src/CoNRec.FilterService/AdminConsole/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_SAMPLES, labelCounts, parseBoolCell, parseCsv, parseJsonl, parseSampleFile, parseSidCell, splitCsv,
} from './samples.js';
import {
  fieldOfServerError, needsEnforceConfirmation, parseGuardWeight, parseObjectiveValue, parseThreshold, validateSceneName,
} from './validate.js';
import { currentPointIndex, pointIndex, sparkPoints, ticks } from './chart.js';
import { num, pct } from './format.js';

// ------------------------------------------------------------ JSONL

test('JSONL: valid lines, optional and null sid, blank lines and CRLF skipped', () => {
  const text = [
    '{"user_id":"u1","item_id":"i9","sid":[1,2,3],"disliked":true}',
    '',
    '{"user_id":"u2","item_id":"i7","disliked":false}\r',
    '  {"user_id":"u3","item_id":"i8","sid":null,"disliked":false}  ',
  ].join('\n');
  const r = parseJsonl(text);
  assert.equal(r.format, 'jsonl');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.samples, [
    { user_id: 'u1', item_id: 'i9', sid: [1, 2, 3], disliked: true },
    { user_id: 'u2', item_id: 'i7', disliked: false },
    { user_id: 'u3', item_id: 'i8', disliked: false },
  ]);
  assert.deepEqual(labelCounts(r.samples), { disliked: 1, liked: 2 });
});

test('JSONL: a byte-order mark is ignored', () => {
  const r = parseJsonl('\uFEFF{"user_id":"u","item_id":"i","disliked":true}\n');
  assert.deepEqual(r.errors, []);
  assert.equal(r.samples.length, 1);
});

test('JSONL: bad lines are reported with their line numbers and are not kept', () => {
  const text = [
    '{"user_id":"u1","item_id":"i1","disliked":true}',       // 1 ok
    '{"user_id":"u1","item_id":"i1","disliked":true',        // 2 bad JSON
    '[1,2]',                                                 // 3 not an object
    '{"user_id":"","item_id":"i1","disliked":true}',         // 4 empty user_id
    '{"user_id":"u1","item_id":5,"disliked":true}',          // 5 item_id not a string
    '{"user_id":"u1","item_id":"i1","disliked":"yes"}',      // 6 disliked not boolean
    '{"user_id":"u1","item_id":"i1","sid":"1 2","disliked":true}', // 7 sid not an array
    '{"user_id":"u1","item_id":"i1","sid":[1,-2],"disliked":true}', // 8 negative code
    '',
    '{"user_id":"u1","item_id":"i1","sid":[1.5],"disliked":false}', // 10 non-integer code
    '{"user_id":"u2","item_id":"i2","disliked":false}',      // 11 ok
  ].join('\n');
  const r = parseJsonl(text);
  assert.equal(r.samples.length, 2);
  assert.deepEqual(r.errors.map(e => e.line), [2, 3, 4, 5, 6, 7, 8, 10]);
  assert.match(r.errors[0].message, /not valid JSON/);
  assert.match(r.errors[1].message, /JSON object/);
  assert.match(r.errors[2].message, /'user_id'/);
  assert.match(r.errors[3].message, /'item_id'/);
  assert.match(r.errors[4].message, /'disliked'/);
  assert.match(r.errors[5].message, /'sid' must be an array/);
  assert.match(r.errors[6].message, /sid\[1\]/);
  assert.match(r.errors[7].message, /sid\[0\]/);
});

test('JSONL: an empty file is an error', () => {
  const r = parseJsonl('\n  \n');
  assert.equal(r.samples.length, 0);
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0].message, /no samples/);
});

test('JSONL: the number of reported errors is capped, the rest counted', () => {
  const r = parseJsonl(Array.from({ length: 150 }, () => 'nope').join('\n'));
  assert.equal(r.errors.length, 100);
  assert.equal(r.moreErrors, 50);
  assert.equal(r.errors[99].line, 100);
});

test('too many samples is an error', () => {
  const line = '{"user_id":"u","item_id":"i","disliked":true}\n';
  const r = parseJsonl(line.repeat(MAX_SAMPLES + 1));
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0].message, /at most 100000/);
});

// ------------------------------------------------------------ CSV

test('CSV without sid: header in any order and case, true/false/1/0, CRLF', () => {
  const text = 'Disliked,USER_ID,item_id\r\ntrue,u1,i1\r\n0,u2,i2\r\nFALSE,u3,i3\r\n1,u4,i4\r\n';
  const r = parseCsv(text);
  assert.equal(r.format, 'csv');
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.samples, [
    { user_id: 'u1', item_id: 'i1', disliked: true },
    { user_id: 'u2', item_id: 'i2', disliked: false },
    { user_id: 'u3', item_id: 'i3', disliked: false },
    { user_id: 'u4', item_id: 'i4', disliked: true },
  ]);
});

test("CSV with sid: codes separated by spaces, '|' or ';'; empty sid means none; extra columns ignored", () => {
  const text = [
    'user_id,item_id,sid,disliked,note',
    'u1,i1,1 2 3,true,x',
    'u2,i2,4|5|6,false,y',
    'u3,i3,7;8;9,1,',
    'u4,i4,,0,z',
    'u5,i5, 10  | 11 ,false,z',
  ].join('\n');
  const r = parseCsv(text);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.samples, [
    { user_id: 'u1', item_id: 'i1', sid: [1, 2, 3], disliked: true },
    { user_id: 'u2', item_id: 'i2', sid: [4, 5, 6], disliked: false },
    { user_id: 'u3', item_id: 'i3', sid: [7, 8, 9], disliked: true },
    { user_id: 'u4', item_id: 'i4', disliked: false },
    { user_id: 'u5', item_id: 'i5', sid: [10, 11], disliked: false },
  ]);
});

test('CSV: quoted fields with commas, escaped quotes and line breaks', () => {
  const text = 'user_id,item_id,disliked\n"u,1","i ""9""",true\n"u\n2",i2,false\nu3,i3,true\n';
  const r = parseCsv(text);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.samples.map(s => s.user_id), ['u,1', 'u\n2', 'u3']);
  assert.equal(r.samples[0].item_id, 'i "9"');
  // The quoted line break moves the next record to line 5.
  const { records } = splitCsv(text);
  assert.deepEqual(records.map(x => x.line), [1, 2, 3, 5]);
});

test('CSV: bad lines are reported with their line numbers', () => {
  const text = [
    'user_id,item_id,sid,disliked', // 1
    'u1,i1,1 2,true',               // 2 ok
    'u2,i2,1 x,true',               // 3 bad sid code
    'u3,i3,,maybe',                 // 4 bad disliked
    'u4,i4',                        // 5 too few fields
    ',i5,,true',                    // 6 empty user
    '',                             // 7 blank: skipped
    'u7,,,false',                   // 8 empty item
    'u8,i8,99999999999,true',       // 9 code too large
    'u9,i9,3,false',                // 10 ok
  ].join('\n');
  const r = parseCsv(text);
  assert.equal(r.samples.length, 2);
  assert.deepEqual(r.errors.map(e => e.line), [3, 4, 5, 6, 8, 9]);
  assert.match(r.errors[0].message, /'sid' code 2 = 'x'/);
  assert.match(r.errors[1].message, /'disliked' = 'maybe'/);
  assert.match(r.errors[2].message, /has 2 fields; the header has 4/);
  assert.match(r.errors[3].message, /'user_id' is empty/);
  assert.match(r.errors[4].message, /'item_id' is empty/);
  assert.match(r.errors[5].message, /larger than/);
});

test('CSV: a header without the required columns is reported on line 1', () => {
  const r = parseCsv('user,item_id,label\nu1,i1,true\n');
  assert.equal(r.samples.length, 0);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].line, 1);
  assert.match(r.errors[0].message, /missing user_id, disliked/);
});

test('CSV: an unclosed quote is reported on the line it opens', () => {
  const r = parseCsv('user_id,item_id,disliked\nu1,i1,true\nu2,"i2,false\nu3,i3,true\n');
  assert.ok(r.errors.some(e => e.line === 3 && /not closed/.test(e.message)));
});

test('CSV: a stray quote inside an unquoted field is an error', () => {
  const r = parseCsv('user_id,item_id,disliked\nu1,i"1,true\n');
  assert.ok(r.errors.some(e => e.line === 2 && /quote/.test(e.message)));
});

test('CSV: a header alone holds no samples', () => {
  const r = parseCsv('user_id,item_id,disliked\n');
  assert.equal(r.samples.length, 0);
  assert.match(r.errors[0].message, /no samples/);
});

test('cell parsers', () => {
  assert.deepEqual(parseSidCell('  '), { sid: undefined, error: null });
  assert.deepEqual(parseSidCell('1;2|3 4').sid, [1, 2, 3, 4]);
  assert.match(parseSidCell('-1').error, /not a non-negative integer/);
  assert.equal(parseBoolCell(' TRUE '), true);
  assert.equal(parseBoolCell('0'), false);
  assert.equal(parseBoolCell('yes'), null);
});

test('parseSampleFile picks the parser by extension, then by content', () => {
  const jsonl = '{"user_id":"u","item_id":"i","disliked":true}\n';
  const csv = 'user_id,item_id,disliked\nu,i,true\n';
  assert.equal(parseSampleFile('a.jsonl', jsonl).format, 'jsonl');
  assert.equal(parseSampleFile('A.CSV', csv).format, 'csv');
  assert.equal(parseSampleFile('a.txt', jsonl).format, 'jsonl');
  assert.equal(parseSampleFile('a.txt', csv).format, 'csv');
  // The extension wins: a CSV named .jsonl is reported as bad JSONL, line by line.
  assert.deepEqual(parseSampleFile('a.jsonl', csv).errors.map(e => e.line), [1, 2]);
});

// ------------------------------------------------------------ validation mirrors the API

test('scene names, thresholds, guard weights, objectives', () => {
  assert.equal(validateSceneName('home.feed_v-2'), null);
  assert.match(validateSceneName('bad name'), /1-64 characters/);
  assert.match(validateSceneName('x'.repeat(65)), /1-64 characters/);
  assert.match(validateSceneName(''), /required/);
  assert.deepEqual(parseThreshold('0.85'), { value: 0.85, error: null });
  assert.deepEqual(parseThreshold('-1'), { value: -1, error: null });
  assert.match(parseThreshold('2').error, /'threshold' = 2 must be a finite number in \[-1, 1\]/);
  assert.match(parseThreshold('').error, /required/);
  assert.match(parseThreshold('abc').error, /finite number/);
  assert.deepEqual(parseGuardWeight(''), { value: undefined, error: null });
  assert.deepEqual(parseGuardWeight('2'), { value: 2, error: null });
  assert.match(parseGuardWeight('2.5').error, /\[0, 2\]/);
  assert.match(parseObjectiveValue('min_precision', '1.1').error, /'min_precision'/);
});

test('server errors map to the field they name', () => {
  assert.equal(fieldOfServerError("'threshold' = 2 must be a finite number in [-1, 1]"), 'threshold');
  assert.equal(fieldOfServerError("'guard_weight' must be in [0, 2]"), 'guard_weight');
  assert.equal(fieldOfServerError("'objective.min_precision' must be a number in [0, 1]"), 'objective');
  assert.equal(fieldOfServerError("'samples[3].sid' must be an array of codes"), 'samples');
  assert.equal(fieldOfServerError('store unavailable; the change was not applied'), null);
});

test('only a change into enforce needs confirmation', () => {
  assert.equal(needsEnforceConfirmation('shadow', 'enforce'), true);
  assert.equal(needsEnforceConfirmation(undefined, 'enforce'), true);
  assert.equal(needsEnforceConfirmation('enforce', 'enforce'), false);
  assert.equal(needsEnforceConfirmation('enforce', 'shadow'), false);
});

// ------------------------------------------------------------ chart geometry and formatting

test('current threshold: the curve point with the smallest threshold >= current, else not on curve', () => {
  const curve = [0.95, 0.9, 0.85, 0.8].map(threshold => ({ threshold }));
  assert.equal(currentPointIndex(curve, 0.9), 1);
  assert.equal(currentPointIndex(curve, 0.87), 1);
  assert.equal(currentPointIndex(curve, 0.5), 3);
  assert.equal(currentPointIndex(curve, 0.99), -1);
  assert.equal(currentPointIndex(curve, null), -1);
  assert.equal(pointIndex(curve, { threshold: 0.85 }), 2);
  assert.equal(pointIndex(curve, null), -1);
});

test('ticks and sparkline points', () => {
  assert.deepEqual(ticks(1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(0.1), [0, 0.02, 0.04, 0.06, 0.08, 0.1]);
  assert.equal(sparkPoints([], 100, 20), '');
  assert.equal(sparkPoints([1, 3], 100, 20, 0), '0.0,20.0 100.0,0.0');
  assert.equal(sparkPoints([5, 5, 5], 100, 20, 0).split(' ').length, 3);
});

test('formatting: percentages with one decimal, thresholds without float noise', () => {
  assert.equal(pct(0.0312), '3.1%');
  assert.equal(pct(1), '100.0%');
  assert.equal(pct(null), '—');
  assert.equal(num(0.8999999761581421), '0.9');
  assert.equal(num(0.87340003), '0.8734');
  assert.equal(num(-0), '0');
  assert.equal(num(undefined), '—');
});
