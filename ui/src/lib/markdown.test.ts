import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown';

describe('renderMarkdown', () => {
  it('never passes raw HTML through', () => {
    const html = renderMarkdown('Hi <img src=x onerror=alert(1)> <script>alert(1)</script>');
    const root = document.createElement('div');
    root.innerHTML = html;
    expect(root.querySelector('img, script')).toBeNull();
    expect(root.textContent).toContain('<script>');
  });

  it('highlights an anchored passage, even across emphasis', () => {
    const src = 'Each value has a **single owner** today.';
    const start = src.indexOf('a **single');
    const end = src.indexOf(' today');
    const root = document.createElement('div');
    root.innerHTML = renderMarkdown(src, { highlights: [{ id: 't1', start, end }] });
    const marks = [...root.querySelectorAll('mark.anchor')];
    expect(marks.map((m) => m.textContent).join('')).toBe('a single owner');
    expect(marks.every((m) => (m as HTMLElement).dataset.threads === 't1')).toBe(true);
    expect(root.querySelector('strong')?.textContent).toBe('single owner');
    // No marker character leaks into the text.
    expect(root.textContent?.trim()).toBe('Each value has a single owner today.');
  });

  it('keeps overlapping passages apart and strips markers from link targets', () => {
    const src = 'abc [link](https://e.x/abc) def';
    const root = document.createElement('div');
    root.innerHTML = renderMarkdown(src, {
      highlights: [
        { id: 'a', start: 0, end: 6 },
        { id: 'b', start: 4, end: 22 },
      ],
    });
    expect(root.querySelector('a')?.getAttribute('href')).toBe('https://e.x/abc');
    const both = [...root.querySelectorAll('mark')].find((m) => (m as HTMLElement).dataset.threads === 'a b');
    expect(both?.textContent).toBe('l');
    // The second passage ends where the link text ends, not inside its target.
    expect([...root.querySelectorAll('a mark')].map((m) => m.textContent).join('')).toBe('link');
  });

  it('highlights @mentions of members, and mentions of you specially', () => {
    const root = document.createElement('div');
    root.innerHTML = renderMarkdown('Thanks @Grace Hopper and @Sam! `@Grace Hopper`', { mentions: ['Grace Hopper', 'Sam'], me: 'Sam' });
    const mentions = [...root.querySelectorAll('.mention')].map((m) => [m.textContent, m.classList.contains('mention-me')]);
    expect(mentions).toEqual([
      ['@Grace Hopper', false],
      ['@Sam', true],
    ]);
  });
});
