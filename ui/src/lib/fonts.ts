// The font stacks in app.css start with the platform's UI fonts (`system-ui`,
// `ui-monospace`). WebKitGTK, the desktop app's web view on Linux, knows neither name: it
// asks fontconfig about each for every size and weight the page uses before falling back
// to `sans-serif`/`monospace`, ~20 ms of the first render after launch. There the generic
// names go first; the fonts shown are the same.

/** Whether `userAgent` is WebKitGTK's (WebKit on Linux/BSD, not Chromium or Safari). */
export function isWebKitGtk(userAgent: string): boolean {
  return (
    /AppleWebKit\//.test(userAgent) &&
    /\b(X11|Linux|FreeBSD|OpenBSD)\b/.test(userAgent) &&
    !/\b(Chrome|Chromium|CriOS|Edg)\/|Android/.test(userAgent)
  );
}

/** Points the font variables straight at fontconfig's generic families in WebKitGTK. */
export function useFontconfigFamilies(root: HTMLElement, userAgent: string): boolean {
  if (!isWebKitGtk(userAgent)) return false;
  root.style.setProperty('--font', 'sans-serif');
  root.style.setProperty('--mono', 'monospace');
  return true;
}
