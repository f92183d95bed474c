import { describe, expect, it } from 'vitest';
import { count } from '../lib/format';

describe('count', () => {
  it('puts the noun in the singular for one and the plural otherwise', () => {
    expect(count(1, 'post')).toBe('1 post');
    expect(count(0, 'post')).toBe('0 posts');
    expect(count(3, 'received document')).toBe('3 received documents');
    expect(count(2, 'reply', 'replies')).toBe('2 replies');
    expect(count(1, 'reply', 'replies')).toBe('1 reply');
  });
});
