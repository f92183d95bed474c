// The app icon (icons/icon.svg) drawn inline on the boot screen: by index.html before the
// app's script has run (vite.config.ts puts it there at build time) and by App.svelte
// while the app loads its data, so the launch shows one picture throughout. An image
// there also lets WebKit paint the window at once: it holds back the first paint of a
// page with only a few words of text until the page has finished loading, which for the
// app means until its whole script has run.

/** Size the boot screen draws the icon at, in CSS pixels. */
export const BOOT_LOGO_SIZE = 64;

/**
 * The icon's SVG file as markup to put in a page: without the XML declaration, comments
 * and title (it is decoration next to the app's name), at `size` pixels, hidden from
 * assistive technology.
 */
export function inlineIcon(svg: string, size: number = BOOT_LOGO_SIZE): string {
  const markup = svg
    .replace(/<\?xml[\s\S]*?\?>/g, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<title>[\s\S]*?<\/title>/g, '')
    .trim();
  if (!markup.startsWith('<svg')) throw new Error('the icon is not an SVG file');
  return markup.replace(
    /^<svg\b([^>]*?)\swidth="[^"]*"\s+height="[^"]*"/,
    `<svg$1 class="boot-logo" width="${size}" height="${size}" aria-hidden="true" focusable="false"`,
  );
}
