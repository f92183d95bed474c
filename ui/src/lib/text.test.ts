import { describe, expect, it } from 'vitest';
import { applySplices, locatePassage, minimalChange, snippetParts, transformRange, utf8ToUtf16Offsets } from './text';

describe('locatePassage', () => {
  const body = '# Ownership\n\nEach value has a **single owner**. The value is dropped.\n\nSee [the book](https://x.y/z) now.';

  it('finds an exact, unique selection at its UTF-16 offsets', () => {
    const r = locatePassage(body, 'is dropped');
    expect(r).toEqual({ start: body.indexOf('is dropped'), end: body.indexOf('is dropped') + 'is dropped'.length });
  });

  it('matches across Markdown syntax the reader does not see', () => {
    const r = locatePassage(body, 'a single owner. The');
    expect('start' in r && body.slice(r.start, r.end)).toBe('a **single owner**. The');
    const link = locatePassage(body, 'the book now');
    expect('start' in link && body.slice(link.start, link.end)).toBe('the book](https://x.y/z) now');
  });

  it('refuses a selection that occurs more than once, so the anchor is never guessed', () => {
    expect(locatePassage(body, 'value')).toEqual({ problem: 'ambiguous' });
    expect(locatePassage(body, 'not in there')).toEqual({ problem: 'missing' });
    expect(locatePassage(body, '   ')).toEqual({ problem: 'empty' });
  });

  it('counts UTF-16 code units like the core (an emoji is two)', () => {
    const b = 'a😀 b target';
    const r = locatePassage(b, 'target');
    expect(r).toEqual({ start: 6, end: 12 });
  });
});

describe('minimalChange', () => {
  it('keeps the common prefix and suffix', () => {
    expect(minimalChange('hello world', 'hello brave world')).toEqual({ from: 6, to: 6, insert: 'brave ' });
    expect(minimalChange('abc', 'abc')).toBeNull();
    expect(minimalChange('abcdef', 'abXYef')).toEqual({ from: 2, to: 4, insert: 'XY' });
  });

  it('never splits a surrogate pair', () => {
    // Same high surrogate, different low surrogate: the change must cover the whole emoji.
    const c = minimalChange('x😀y', 'x😁y');
    expect(c).toEqual({ from: 1, to: 3, insert: '😁' });
  });

  it('produces a change that turns the old text into the new one', () => {
    const pairs = [
      ['', 'abc'],
      ['abc', ''],
      ['aaa', 'aaaa'],
      ['abab', 'ab'],
    ];
    for (const [a, b] of pairs) {
      const c = minimalChange(a, b)!;
      expect(a.slice(0, c.from) + c.insert + a.slice(c.to)).toBe(b);
    }
  });
});

describe('transformRange', () => {
  it('follows the passage through edits before, inside and after it', () => {
    expect(transformRange([5, 10], { pos: 0, delete: 0, insert: 'abc' })).toEqual([8, 13]);
    expect(transformRange([5, 10], { pos: 7, delete: 0, insert: 'xy' })).toEqual([5, 12]);
    expect(transformRange([5, 10], { pos: 10, delete: 0, insert: 'xy' })).toEqual([5, 10]);
    expect(transformRange([5, 10], { pos: 5, delete: 0, insert: 'xy' })).toEqual([7, 12]);
    expect(transformRange([5, 10], { pos: 3, delete: 4, insert: '' })).toEqual([3, 6]);
  });

  it('detaches when every character of the passage is deleted', () => {
    expect(transformRange([5, 10], { pos: 4, delete: 7, insert: 'new' })).toBeNull();
    expect(transformRange([5, 10], { pos: 5, delete: 5, insert: '' })).toBeNull();
  });
});

describe('snippetParts', () => {
  it('turns UTF-8 byte highlights into marked parts', () => {
    const snippet = 'café owner here';
    // "owner" starts after "café " = 6 bytes (é is two bytes).
    expect(snippetParts(snippet, [[6, 11]])).toEqual([
      { text: 'café ', mark: false },
      { text: 'owner', mark: true },
      { text: ' here', mark: false },
    ]);
  });

  it('understands the store markers U+0002 ... U+0003', () => {
    expect(snippetParts('a \u0002hit\u0003 b')).toEqual([
      { text: 'a ', mark: false },
      { text: 'hit', mark: true },
      { text: ' b', mark: false },
    ]);
  });

  it('maps offsets past astral characters', () => {
    expect(utf8ToUtf16Offsets('😀x', [0, 4, 5])).toEqual([0, 2, 3]);
  });
});

describe('applySplices', () => {
  it('applies in order and refuses a splice outside the text', () => {
    expect(applySplices('abc', [{ pos: 1, delete: 1, insert: 'XY' }, { pos: 0, delete: 0, insert: '>' }])).toBe('>aXYc');
    expect(() => applySplices('abc', [{ pos: 2, delete: 5, insert: '' }])).toThrow(RangeError);
  });
});
