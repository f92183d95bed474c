import { describe, expect, it } from 'vitest';
import { isWebKitGtk, useFontconfigFamilies } from './fonts';

const WEBKITGTK =
  'Mozilla/5.0 (X11; Ubuntu; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15';
const CHROMIUM_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const SAFARI_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15';
const EDGE_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const ANDROID =
  'Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Safari/537.36';

describe('platform fonts', () => {
  it('recognises WebKitGTK and nothing else', () => {
    expect(isWebKitGtk(WEBKITGTK)).toBe(true);
    for (const ua of [CHROMIUM_LINUX, SAFARI_MAC, EDGE_WINDOWS, FIREFOX_LINUX, ANDROID, '']) {
      expect(isWebKitGtk(ua), ua).toBe(false);
    }
  });

  it('sets the generic families on WebKitGTK only', () => {
    const gtk = document.createElement('div');
    expect(useFontconfigFamilies(gtk, WEBKITGTK)).toBe(true);
    expect(gtk.style.getPropertyValue('--font')).toBe('sans-serif');
    expect(gtk.style.getPropertyValue('--mono')).toBe('monospace');

    const chromium = document.createElement('div');
    expect(useFontconfigFamilies(chromium, CHROMIUM_LINUX)).toBe(false);
    expect(chromium.style.getPropertyValue('--font')).toBe('');
  });
});
