/**
 * fast-check arbitraries of text for the parsers' property tests and `npm run fuzz`: lines of a format's own words,
 * and real captures damaged the ways files get damaged.
 */
import fc from 'fast-check';

/** Lines made of a format's own words, with odd spacing, plus arbitrary lines; `\n` or `\r\n`; maybe unterminated. */
export function linesOf(tokens: readonly string[]): fc.Arbitrary<string> {
  const line = fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...tokens), { maxLength: 12 }).map((w) => w.join(' ')) },
    { weight: 2, arbitrary: fc.array(fc.constantFrom(...tokens), { maxLength: 12 }).map((w) => w.join('     ')) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  );
  return fc
    .tuple(fc.array(line, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.boolean())
    .map(([lines, eol, trailing, bom]) => (bom ? '\ufeff' : '') + lines.join(eol) + (trailing ? eol : ''));
}

/** A real capture damaged the ways files get damaged: lines lost, doubled, cut, edited, swapped, the text cut. */
export function damaged(captures: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.record({
    kind: fc.constantFrom('delete-line', 'duplicate-line', 'cut-line', 'insert', 'delete-char', 'swap', 'cut-text'),
    at: fc.nat(),
    at2: fc.nat(),
    text: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('\n', '\r', '\t', ' ', '\u0000', '\ufffd', '\ufeff')),
  });
  return fc.tuple(fc.constantFrom(...captures), fc.array(edit, { maxLength: 10 })).map(([capture, edits]) => {
    let out = capture.split('\n');
    for (const e of edits) {
      if (out.length === 0) break;
      const i = e.at % out.length;
      const l = out[i] ?? '';
      const j = l.length === 0 ? 0 : e.at2 % (l.length + 1);
      switch (e.kind) {
        case 'delete-line':
          out.splice(i, 1);
          break;
        case 'duplicate-line':
          out.splice(i, 0, l);
          break;
        case 'cut-line':
          out[i] = l.slice(0, j);
          break;
        case 'insert':
          out[i] = l.slice(0, j) + e.text + l.slice(j);
          break;
        case 'delete-char':
          out[i] = l.slice(0, j) + l.slice(j + 1);
          break;
        case 'swap': {
          const k = e.at2 % out.length;
          [out[i], out[k]] = [out[k] ?? '', l];
          break;
        }
        case 'cut-text': {
          const joined = out.join('\n');
          out = joined.slice(0, e.at % (joined.length + 1)).split('\n');
          break;
        }
      }
    }
    return out.join('\n');
  });
}
