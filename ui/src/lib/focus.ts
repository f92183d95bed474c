// Keyboard focus helpers shared by the views: move focus into what just opened, and give it
// back to the control that opened it when it closes.

import { tick } from 'svelte';

/** Svelte action: focuses the element once it is in the document (for forms that open). */
export function focusOnMount(node: HTMLElement): void {
  // After the current update, so the element is laid out and visible.
  void tick().then(() => {
    if (node.isConnected) node.focus();
  });
}

/**
 * Focuses the element `get` returns after the next update (the control that opened a form or
 * panel, re-rendered once it closes). Falls back to the page's heading, so focus never drops
 * to the document body.
 */
export async function focusAfterUpdate(get: () => HTMLElement | null | undefined): Promise<void> {
  await tick();
  const el = get();
  if (el && el.isConnected) {
    el.focus();
    return;
  }
  focusMainHeading();
}

/**
 * Focuses the main view's h1 (made focusable for this), e.g. after navigating; false when
 * the view has no heading (yet).
 */
export function focusMainHeading(): boolean {
  const h1 = document.querySelector<HTMLElement>('main h1');
  if (!h1) return false;
  if (!h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
  // The heading is at the top of the view: no scrolling (which costs a layout) needed.
  h1.focus({ preventScroll: true });
  return true;
}

/**
 * Svelte action: Escape inside the element calls `close` (for inline forms and panels; a
 * popup inside that handles Escape itself stops it first).
 */
export function escapeCloses(node: HTMLElement, close: () => void) {
  let current = close;
  const onKeydown = (e: KeyboardEvent) => {
    if (e.key !== 'Escape' || e.defaultPrevented) return;
    e.preventDefault();
    e.stopPropagation();
    current();
  };
  node.addEventListener('keydown', onKeydown);
  return {
    update(next: () => void) {
      current = next;
    },
    destroy() {
      node.removeEventListener('keydown', onKeydown);
    },
  };
}

/** Whether keyboard focus is nowhere useful (on the body, or on an element that is gone). */
export function focusLost(): boolean {
  const a = document.activeElement;
  return !a || a === document.body || a === document.documentElement || !a.isConnected;
}

/**
 * After a view changed: once the new view shows its h1 (views render it when their data has
 * loaded), focuses it if focus was lost (the control that navigated is gone) or `force`.
 * Gives up after `timeout` ms. Returns a function that cancels the wait.
 */
export function focusViewHeading(force: boolean, timeout = 3000): () => void {
  let done = false;
  let observer: MutationObserver | null = null;
  const finish = () => {
    done = true;
    observer?.disconnect();
    clearTimeout(timer);
  };
  const attempt = (): boolean => {
    if (done) return true;
    const h1 = document.querySelector<HTMLElement>('main h1');
    if (!h1) return false;
    finish();
    // After the new view's first frame: focusing needs an up-to-date layout, which is then
    // already there instead of being computed early, in the middle of building the view.
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (h1.isConnected && (force || focusLost())) focusMainHeading();
      }, 0),
    );
    return true;
  };
  const timer = setTimeout(finish, timeout);
  void tick().then(() => {
    if (attempt() || done) return;
    const main = document.querySelector('main');
    if (!main) return finish();
    observer = new MutationObserver(() => void attempt());
    observer.observe(main, { childList: true, subtree: true });
  });
  return finish;
}
