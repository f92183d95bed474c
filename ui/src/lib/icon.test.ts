import { describe, expect, it } from 'vitest';
import iconSvg from '../../../icons/icon.svg?raw';
import { inlineIcon } from './icon';

describe('inlineIcon', () => {
  it('turns the app icon file into decorative inline markup at the boot size', () => {
    const markup = inlineIcon(iconSvg);
    expect(markup.startsWith('<svg')).toBe(true);
    expect(markup).not.toContain('<?xml');
    expect(markup).not.toContain('<!--');
    expect(markup).not.toContain('<title>');
    const root = new DOMParser().parseFromString(markup, 'image/svg+xml').documentElement;
    expect(root.getAttribute('width')).toBe('64');
    expect(root.getAttribute('height')).toBe('64');
    expect(root.getAttribute('aria-hidden')).toBe('true');
    expect(root.getAttribute('class')).toBe('boot-logo');
    // The drawing itself is kept.
    expect(root.querySelectorAll('circle')).toHaveLength(4);
  });

  it('refuses a file that is not SVG', () => {
    expect(() => inlineIcon('<html></html>')).toThrow(/not an SVG/);
  });
});
