import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { pickBackend, type Backend } from './lib/backend';
import { useFontconfigFamilies } from './lib/fonts';
import { markOnce, SCRIPT } from './lib/perf';

markOnce(SCRIPT);
useFontconfigFamilies(document.documentElement, navigator.userAgent);

async function backend(): Promise<Backend> {
  // `npm run dev` with `?mock` runs the UI over the in-memory backend (never in a build).
  if (import.meta.env.DEV && new URLSearchParams(window.location.search).has('mock')) {
    const { MockBackend } = await import('./lib/backend/mock');
    return new MockBackend({ displayName: 'Sam Learner' });
  }
  return pickBackend();
}

const target = document.getElementById('app');
if (!target) throw new Error('the page has no #app element');

void backend().then((b) => {
  // The static "Opening your data…" line from index.html makes way for the app.
  target.replaceChildren();
  mount(App, { target, props: { backend: b } });
});
